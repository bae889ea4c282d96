//! The handler trait users implement, and the dispatcher that calls it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use super::{enum_ident, events, handler_trait_ident, payload_param};
use crate::channel::model::{ChannelDecl, Direction, EventDecl};

pub(super) fn handler_trait(decl: &ChannelDecl, rt: &TokenStream) -> TokenStream {
    let ChannelDecl { vis, ident, name, .. } = decl;
    let trait_ident = handler_trait_ident(decl);
    let doc = format!(
        "Handles the client-to-server events of the `{name}` channel ([`{ident}`]): one method per \
         `=> server` event, so a missing handler does not compile. A channel's events are handled \
         one at a time, in the order they arrived; an `async` one holds up the later events of its \
         channel (only) until its future completes."
    );
    let methods = events(decl, Direction::ToServer).map(|event| {
        let EventDecl { docs, ident: method, .. } = event;
        let param = payload_param(event);
        let output = event.handler_output();
        // Spanned at the event, so "required by a bound" notes point at it, not at the
        // whole attribute.
        let ret = match (event.is_async(), &output) {
            (false, None) => quote!(),
            (false, Some(output)) => quote!(-> #output),
            (true, output) => {
                let output = output.clone().unwrap_or_else(|| quote!(()));
                quote_spanned! {method.span()=>
                    -> impl ::core::future::Future<Output = #output> + ::core::marker::Send + use<Self>
                }
            }
        };
        let what = if event.is_request() { "Answers the client's request" } else { "Handles the client's event" };
        let mut doc = format!("{what} `{}`.", event.name);
        if event.is_async() {
            doc.push_str(
                " Returns the work as a future (`-> impl Future<Output = ..> + use<>` in the impl, \
                 `async move { .. }` in the body): it runs on its own task after this method \
                 returns, so it owns what it uses.",
            );
        }
        if event.error.is_some() {
            doc.push_str(" An `Err` reaches the client typed, as the request's error.");
        }
        // Spanned at the event: rustc's "missing `history`" then points at the event
        // in the declaration, not at the whole attribute.
        quote_spanned! {method.span()=>
            #[doc = #doc]
            #(#docs)*
            fn #method(&mut self, cx: &mut #rt::ChannelCx<#ident> #param) #ret;
        }
    });
    let no_events = events(decl, Direction::ToServer).next().is_none();
    // A channel the client never sends on needs no handler: `()` will do.
    let unit_impl = no_events.then(|| quote!(impl #trait_ident for () {}));
    quote! {
        #[doc = #doc]
        #vis trait #trait_ident: ::core::marker::Send + 'static {
            #(#methods)*

            /// Called once when the channel opens, before the client can send on it: what
            /// it emits follows the channel's `open` (a late subscriber's first value).
            /// Does nothing unless implemented.
            fn on_open(&mut self, cx: &mut #rt::ChannelCx<#ident>) {
                let _ = cx;
            }

            /// Called once when the channel closes, with the reason (the client released
            /// it, its component unmounted, the session ended, server code closed it).
            /// Does nothing unless implemented.
            fn on_close(&mut self, reason: #rt::CloseReason) {
                let _ = reason;
            }
        }
        #unit_impl
    }
}

pub(super) fn dispatcher(decl: &ChannelDecl, rt: &TokenStream) -> TokenStream {
    let ChannelDecl { ident, .. } = decl;
    let trait_ident = handler_trait_ident(decl);
    let enum_ident = enum_ident(decl, Direction::ToServer);
    let dispatch = format_ident!("__{}Dispatch", ident);
    let to_server: Vec<&EventDecl> = events(decl, Direction::ToServer).collect();
    let call = |event: &EventDecl| {
        let method = &event.ident;
        let args = if event.payload.is_some() { quote!(&mut cx, payload) } else { quote!(&mut cx) };
        quote!(self.0.with_mut(|handler| handler.#method(#args)))
    };
    let pattern = |event: &EventDecl| {
        let variant = event.variant();
        if event.payload.is_some() { quote!(#enum_ident::#variant(payload)) } else { quote!(#enum_ident::#variant) }
    };
    let emit_arms = to_server.iter().map(|event| {
        let pattern = pattern(event);
        if event.is_request() {
            quote!(#pattern => Err(#rt::__private::wrong_kind(event, true)))
        } else if event.is_async() {
            let call = call(event);
            quote!(#pattern => #rt::__private::emit_later(#call))
        } else {
            let call = call(event);
            quote!(#pattern => #rt::__private::emit_done(#call))
        }
    });
    let request_arms = to_server.iter().map(|event| {
        let pattern = pattern(event);
        let Some(response) = &event.response else {
            return quote!(#pattern => #rt::Reply::rejected(#rt::__private::wrong_kind(event, false)));
        };
        let call = call(event);
        let codec = match &event.error {
            Some(error) => {
                let (ok, error) = (decl.codec(response), decl.codec(error));
                quote!(#rt::__private::Fallible { ok: #ok, error: #error })
            }
            None => decl.codec(response),
        };
        if event.is_async() {
            quote!(#pattern => #codec.answer_later(#call))
        } else {
            quote!(#pattern => #codec.answer(#call))
        }
    });
    quote! {
        struct #dispatch<Cell>(Cell, #rt::__private::Grant<#ident>);

        #[automatically_derived]
        impl<Cell> #rt::RawHandler for #dispatch<Cell>
        where
            Cell: #rt::__private::HandlerCell,
            Cell::Handler: #trait_ident,
        {
            fn on_open(&mut self, cx: &#rt::RawCx<'_>) {
                let mut cx = #rt::__private::channel_cx::<#ident>(&self.1, cx);
                let _ = self.0.with_mut_at_open(|handler| handler.on_open(&mut cx));
            }

            fn on_close(&mut self, reason: #rt::CloseReason) {
                self.0.at_close(move |handler| handler.on_close(reason));
            }

            fn on_emit(
                &mut self,
                cx: &#rt::RawCx<'_>,
                event: &str,
                payload: &#rt::serde_json::value::RawValue,
            ) -> ::core::result::Result<#rt::Emitted, #rt::protocol::WireError> {
                let message = #enum_ident::decode(event, payload)?;
                #[allow(unused_mut, unused_variables)]
                let mut cx = #rt::__private::channel_cx::<#ident>(&self.1, cx);
                #[allow(unreachable_code)]
                match message {
                    #(#emit_arms,)*
                }
            }

            fn on_request(
                &mut self,
                cx: &#rt::RawCx<'_>,
                event: &str,
                payload: &#rt::serde_json::value::RawValue,
            ) -> #rt::Reply {
                let message = match #enum_ident::decode(event, payload) {
                    Ok(message) => message,
                    Err(error) => return #rt::Reply::rejected(error),
                };
                #[allow(unused_mut, unused_variables)]
                let mut cx = #rt::__private::channel_cx::<#ident>(&self.1, cx);
                #[allow(unreachable_code)]
                match message {
                    #(#request_arms,)*
                }
            }
        }
    }
}
