//! The outbound and broadcast types: typed emits, requests and broadcasts.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{events, payload_param};
use crate::channel::model::{ChannelDecl, Direction, EventDecl};

pub(super) fn outbound(decl: &ChannelDecl, rt: &TokenStream) -> (TokenStream, TokenStream) {
    let ChannelDecl { vis, ident, name, .. } = decl;
    let outbound = format_ident!("{}Outbound", ident);
    let doc = format!(
        "The server-to-client events of the `{name}` channel, as methods of `Channel<{ident}>` \
         (and of `ChannelCx<{ident}>` in handlers): they reach this one client."
    );
    let methods = events(decl, Direction::ToClient).map(|event| {
        let EventDecl { docs, ident: method, name: event_name, .. } = event;
        let param = payload_param(event);
        match &event.response {
            Some(response) => {
                let doc = format!(
                    "Asks the client to answer `{event_name}`; sent when awaited. Fails with \
                     `ChannelError::Timeout` after the server's request timeout unless `.timeout(..)` sets one."
                );
                let answer = decl.codec(response);
                let payload = match &event.payload {
                    Some(ty) => {
                        let codec = decl.codec(ty);
                        quote!(::core::option::Option::Some(#codec.encode(&payload)))
                    }
                    None => quote!(::core::option::Option::None),
                };
                quote! {
                    #[doc = #doc]
                    #(#docs)*
                    pub fn #method(&self #param) -> #rt::Request<#response> {
                        #answer.request(&self.raw, #event_name, #payload)
                    }
                }
            }
            None => {
                let doc = format!("Sends `{event_name}` to this client (fire-and-forget: the `Sent` may be ignored).");
                let body = match &event.payload {
                    Some(ty) => {
                        let codec = decl.codec(ty);
                        quote!(#codec.emit(&self.raw, #event_name, &payload))
                    }
                    None => quote!(#rt::__private::emit_null(&self.raw, #event_name)),
                };
                quote! {
                    #[doc = #doc]
                    #(#docs)*
                    pub fn #method(&self #param) -> #rt::Sent {
                        #body
                    }
                }
            }
        }
    });
    let declaration = quote! {
        #[doc = #doc]
        #[derive(Clone)]
        #vis struct #outbound {
            raw: #rt::RawChannel,
        }
    };
    let impls = quote! {
        #[automatically_derived]
        impl ::core::convert::From<#rt::__private::Opened<#ident>> for #outbound {
            fn from(opened: #rt::__private::Opened<#ident>) -> Self {
                Self { raw: opened.into_raw() }
            }
        }

        #[automatically_derived]
        impl #outbound {
            #(#methods)*
        }
    };
    (declaration, impls)
}

pub(super) fn broadcast(decl: &ChannelDecl, rt: &TokenStream) -> (TokenStream, TokenStream) {
    let ChannelDecl { vis, ident, name, .. } = decl;
    let broadcast = format_ident!("{}Broadcast", ident);
    let doc = format!(
        "The server-to-client events of the `{name}` channel, sent to every session with a `{name}` \
         channel open (in the room, for a channel with rooms), or to those `except`, `to_user` or \
         `to_session` pick. Each method says what it did by the time it returned (a `Sent<Delivery>`, \
         which may be ignored)."
    );
    let methods = events(decl, Direction::ToClient).filter(|e| !e.is_request()).map(|event| {
        let EventDecl { docs, ident: method, name: event_name, .. } = event;
        let param = payload_param(event);
        let body = match &event.payload {
            Some(ty) => {
                let codec = decl.codec(ty);
                quote!(#codec.broadcast(&self.inner, #event_name, &payload))
            }
            None => quote!(#rt::__private::broadcast_null(&self.inner, #event_name)),
        };
        let doc = format!("Sends `{event_name}` to the sessions this `{name}` broadcast is for.");
        quote! {
            #[doc = #doc]
            #(#docs)*
            pub fn #method(&self #param) -> #rt::Sent<#rt::Delivery> {
                #body
            }
        }
    });
    let declaration = quote! {
        #[doc = #doc]
        #[derive(Clone)]
        #vis struct #broadcast {
            inner: #rt::Broadcaster,
        }
    };
    let impls = quote! {
        #[automatically_derived]
        impl ::core::convert::From<#rt::__private::Targeted<#ident>> for #broadcast {
            fn from(targeted: #rt::__private::Targeted<#ident>) -> Self {
                Self { inner: targeted.into_inner() }
            }
        }

        #[automatically_derived]
        impl #broadcast {
            /// The same broadcast, to everyone but `session` (the sender of a typing
            /// indicator: `cx.broadcast_others()` is the short form).
            pub fn except(self, session: #rt::SessionId) -> Self {
                Self { inner: self.inner.except(session) }
            }

            /// The same broadcast, only to the sessions of the user with key `user` (all
            /// of their tabs), on every node.
            pub fn to_user(self, user: &str) -> Self {
                Self { inner: self.inner.to_user(user) }
            }

            /// The same broadcast, only to session `session`, on whichever node it is.
            pub fn to_session(self, session: #rt::SessionId) -> Self {
                Self { inner: self.inner.to_session(session) }
            }

            #(#methods)*
        }
    };
    (declaration, impls)
}
