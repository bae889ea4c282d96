//! `open`: the channel opened for a session, with its handler.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{enum_ident, handler_trait_ident};
use crate::channel::model::{ChannelDecl, Direction};

pub(super) fn open(decl: &ChannelDecl, rt: &TokenStream) -> TokenStream {
    let ChannelDecl { ident, name, .. } = decl;
    let trait_ident = handler_trait_ident(decl);
    let dispatch = format_ident!("__{}Dispatch", ident);
    let broadcast = format_ident!("{}Broadcast", ident);
    let outbound = format_ident!("{}Outbound", ident);
    let to_server = enum_ident(decl, Direction::ToServer);
    let to_client = enum_ident(decl, Direction::ToClient);
    let schema = crate::channel::render_schema::render(decl, rt);
    let (functions, room_type, rooms_impl) = match &decl.room {
        None => {
            let open_doc = format!(
                "Opens a `{name}` channel in `session`; the client's events go to `handler`. The channel \
                 closes when `close` is called or the session ends."
            );
            let broadcast_doc = format!("Every session of `server` with a `{name}` channel open, on every node.");
            let functions = quote! {
                #[doc = #open_doc]
                pub fn open(
                    session: &#rt::Session,
                    handler: impl #trait_ident,
                ) -> ::core::result::Result<#rt::Channel<#ident>, #rt::OpenError> {
                    #rt::__private::open::<Self, _>(session, handler)
                }

                #[doc = #broadcast_doc]
                pub fn broadcast(server: &#rt::Server) -> #broadcast {
                    #broadcast::from(#rt::__private::broadcast_to::<Self>(server))
                }
            };
            (functions, quote!(()), quote!(#[automatically_derived] impl #rt::typed::WithoutRooms for #ident {}))
        }
        Some(room) => {
            let open_doc = format!(
                "Opens a `{name}` channel in room `room` of `session`; the client's events go to \
                 `handler`, and the room's broadcasts reach it. The authorization hook sees the room \
                 (`Access::Open`); a refusal is `OpenError::Forbidden`."
            );
            let room_doc =
                format!("Every session of `server` with a `{name}` channel open in room `room`, on every node.");
            let functions = quote! {
                #[doc = #open_doc]
                pub fn open_in(
                    session: &#rt::Session,
                    room: &#room,
                    handler: impl #trait_ident,
                ) -> ::core::result::Result<#rt::Channel<#ident>, #rt::OpenError> {
                    #rt::__private::open_in::<Self, _>(session, room, handler)
                }

                #[doc = #room_doc]
                pub fn to_room(server: &#rt::Server, room: &#room) -> #broadcast {
                    #broadcast::from(#rt::__private::broadcast_to_room::<Self>(server, room))
                }
            };
            (functions, quote!(#room), quote!(#[automatically_derived] impl #rt::typed::WithRooms for #ident {}))
        }
    };
    let (presence_type, presence_impl, tracks) = match &decl.presence {
        Some(ty) => (quote!(#ty), quote!(#[automatically_derived] impl #rt::typed::WithPresence for #ident {}), true),
        None => (quote!(()), quote!(), false),
    };
    quote! {
        #[automatically_derived]
        impl #ident {
            #functions
        }

        #presence_impl

        #[automatically_derived]
        impl<H: #trait_ident> #rt::HandledBy<H> for #ident {
            fn dispatcher<Cell: #rt::__private::HandlerCell<Handler = H>>(
                cell: Cell,
                grant: #rt::__private::Grant<Self>,
            ) -> ::std::boxed::Box<dyn #rt::RawHandler> {
                ::std::boxed::Box::new(#dispatch(cell, grant))
            }
        }

        #rooms_impl

        #[automatically_derived]
        impl #rt::__private::Sealed for #ident {}

        #[automatically_derived]
        impl #rt::ChannelSpec for #ident {
            const NAME: &'static str = #name;
            const PRESENCE: bool = #tracks;
            type Room = #room_type;
            type Presence = #presence_type;
            type Outbound = #outbound;
            type Broadcast = #broadcast;
            type ToServer = #to_server;
            type ToClient = #to_client;

            fn schema() -> #rt::typed::schema::ChannelSchema {
                #schema
            }
        }
    }
}
