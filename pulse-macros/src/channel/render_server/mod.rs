//! Renders the server side of a channel: the handler trait and the dispatcher
//! (`handlers.rs`), the outbound and broadcast types (`send.rs`), the wire enums and
//! the payload codecs (`wire.rs`), `open` (`open.rs`); this file puts them together and
//! holds the helpers they share.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

mod handlers;
mod open;
mod send;
mod wire;

use handlers::{dispatcher, handler_trait};
use open::open;
use send::{broadcast, outbound};
use wire::{codecs, wire_enum};

use super::model::{ChannelDecl, Direction, EventDecl};

/// Renders what users name (the struct, the handler trait, the outbound and broadcast
/// types, the wire enums) in the open, and everything else — impls, the dispatcher,
/// the codecs — sealed inside `const _: () = { ... };`, as serde does.
pub(crate) fn render(decl: &ChannelDecl, rt: &TokenStream) -> TokenStream {
    let ChannelDecl { attrs, vis, ident, .. } = decl;
    let (outbound_decl, outbound_impls) = outbound(decl, rt);
    let (broadcast_decl, broadcast_impls) = broadcast(decl, rt);
    let (to_server_decl, to_server_impls) = wire_enum(decl, rt, Direction::ToServer);
    let (to_client_decl, to_client_impls) = wire_enum(decl, rt, Direction::ToClient);
    let handler = handler_trait(decl, rt);
    let sealed = [
        codecs(decl, rt),
        outbound_impls,
        broadcast_impls,
        to_server_impls,
        to_client_impls,
        dispatcher(decl, rt),
        open(decl, rt),
    ];
    quote! {
        #(#attrs)*
        #vis struct #ident;
        #handler
        #outbound_decl
        #broadcast_decl
        #to_server_decl
        #to_client_decl
        #[doc(hidden)]
        const _: () = {
            #(#sealed)*
        };
    }
}

pub(super) fn events(decl: &ChannelDecl, direction: Direction) -> impl Iterator<Item = &EventDecl> {
    decl.events.iter().filter(move |e| e.direction == direction)
}

pub(super) fn handler_trait_ident(decl: &ChannelDecl) -> syn::Ident {
    format_ident!("{}Handler", decl.ident)
}

pub(super) fn enum_ident(decl: &ChannelDecl, direction: Direction) -> syn::Ident {
    match direction {
        Direction::ToServer => format_ident!("{}ToServer", decl.ident),
        Direction::ToClient => format_ident!("{}ToClient", decl.ident),
    }
}

/// `payload: Message` for the parameter list, or nothing.
pub(super) fn payload_param(event: &EventDecl) -> TokenStream {
    match &event.payload {
        Some(ty) => quote!(, payload: #ty),
        None => quote!(),
    }
}

pub(super) fn respan(tokens: &TokenStream, span: proc_macro2::Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut tree| {
            tree.set_span(span);
            tree
        })
        .collect()
}
