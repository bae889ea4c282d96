//! Renders the server side of a channel: the handler trait, the outbound and broadcast
//! types, the wire enums, the dispatcher, `open`, and the payload type checks.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

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

fn events(decl: &ChannelDecl, direction: Direction) -> impl Iterator<Item = &EventDecl> {
    decl.events.iter().filter(move |e| e.direction == direction)
}

fn handler_trait_ident(decl: &ChannelDecl) -> syn::Ident {
    format_ident!("{}Handler", decl.ident)
}

fn enum_ident(decl: &ChannelDecl, direction: Direction) -> syn::Ident {
    match direction {
        Direction::ToServer => format_ident!("{}ToServer", decl.ident),
        Direction::ToClient => format_ident!("{}ToClient", decl.ident),
    }
}

/// `payload: Message` for the parameter list, or nothing.
fn payload_param(event: &EventDecl) -> TokenStream {
    match &event.payload {
        Some(ty) => quote!(, payload: #ty),
        None => quote!(),
    }
}

fn handler_trait(decl: &ChannelDecl, rt: &TokenStream) -> TokenStream {
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

fn outbound(decl: &ChannelDecl, rt: &TokenStream) -> (TokenStream, TokenStream) {
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

fn broadcast(decl: &ChannelDecl, rt: &TokenStream) -> (TokenStream, TokenStream) {
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

fn wire_enum(decl: &ChannelDecl, rt: &TokenStream, direction: Direction) -> (TokenStream, TokenStream) {
    let ChannelDecl { vis, name, .. } = decl;
    let enum_ident = enum_ident(decl, direction);
    let (who, doc_dir) = match direction {
        Direction::ToServer => ("client-to-server", "the client sends"),
        Direction::ToClient => ("server-to-client", "the server sends"),
    };
    let doc = format!(
        "Every {who} event of the `{name}` channel ({doc_dir}), as it travels: the frame's `event` \
         and `payload` fields (`{{\"event\": \"...\", \"payload\": ...}}` in JSON)."
    );
    let list: Vec<&EventDecl> = events(decl, direction).collect();
    let pattern = |event: &EventDecl, binding: TokenStream| {
        let variant = event.variant();
        if event.payload.is_some() { quote!(Self::#variant(#binding)) } else { quote!(Self::#variant) }
    };
    let variants = list.iter().map(|event| {
        let variant = event.variant();
        let EventDecl { docs, .. } = event;
        match &event.payload {
            Some(ty) => quote!(#(#docs)* #variant(#ty)),
            None => quote!(#(#docs)* #variant),
        }
    });
    let name_arms = list.iter().map(|event| {
        let pattern = pattern(event, quote!(_));
        let wire = &event.name;
        quote!(#pattern => #wire)
    });
    let request_arms = list.iter().map(|event| {
        let pattern = pattern(event, quote!(_));
        let is_request = event.is_request();
        quote!(#pattern => #is_request)
    });
    let serialize_arms = list.iter().map(|event| {
        let pattern = pattern(event, quote!(payload));
        let wire = &event.name;
        let payload = match &event.payload {
            Some(ty) => {
                let codec = decl.codec(ty);
                quote!(::core::option::Option::Some((&#codec, payload)))
            }
            None => quote!(::core::option::Option::<(&#rt::__private::Codec<()>, &())>::None),
        };
        quote!(#pattern => #rt::__private::serialize_event(serializer, #wire, #payload))
    });
    let decode_arms = list.iter().map(|event| {
        let variant = event.variant();
        let wire = &event.name;
        match &event.payload {
            Some(ty) => {
                let codec = decl.codec(ty);
                quote!(#wire => Ok(Self::#variant(#codec.decode_payload(event, payload)?)))
            }
            None => quote!(#wire => Ok(Self::#variant)),
        }
    });
    let matched = if list.is_empty() { quote!(match *self {}) } else { quote!(match *self { #(#name_arms,)* }) };
    // `as_new_message()`: the payload of one event, for filtering a list of them.
    let accessors = list.iter().filter_map(|event| {
        let ty = event.payload.as_ref()?;
        let variant = event.variant();
        let method = format_ident!("as_{}", event.ident, span = event.ident.span());
        let doc = format!("The payload, if this is `{}`.", event.name);
        Some(quote! {
            #[doc = #doc]
            #[allow(unreachable_patterns)]
            pub fn #method(&self) -> ::core::option::Option<&#ty> {
                match self {
                    Self::#variant(payload) => ::core::option::Option::Some(payload),
                    _ => ::core::option::Option::None,
                }
            }
        })
    });
    let matched_request =
        if list.is_empty() { quote!(match *self {}) } else { quote!(match *self { #(#request_arms,)* }) };
    let matched_serialize =
        if list.is_empty() { quote!(match *self {}) } else { quote!(match self { #(#serialize_arms,)* }) };
    let declaration = quote! {
        #[doc = #doc]
        #vis enum #enum_ident {
            #(#variants,)*
        }
    };
    let impls = quote! {
        #[automatically_derived]
        impl #enum_ident {
            /// The event's name on the wire.
            pub fn event(&self) -> &'static str {
                #matched
            }

            /// Whether the event is a request (it expects an answer).
            pub fn is_request(&self) -> bool {
                #matched_request
            }

            #(#accessors)*

            /// Decodes an event from its name and payload, refusing unknown names and
            /// payloads of the wrong type.
            pub fn decode(
                event: &str,
                payload: &#rt::serde_json::value::RawValue,
            ) -> ::core::result::Result<Self, #rt::protocol::WireError> {
                let _ = payload;
                match event {
                    #(#decode_arms,)*
                    _ => Err(#rt::unknown_event(event)),
                }
            }
        }

        #[automatically_derived]
        impl #rt::typed::WireEvent for #enum_ident {
            fn decode(
                event: &str,
                payload: &#rt::serde_json::value::RawValue,
            ) -> ::core::result::Result<Self, #rt::protocol::WireError> {
                Self::decode(event, payload)
            }
            fn event(&self) -> &'static str {
                Self::event(self)
            }
        }

        #[automatically_derived]
        impl #rt::serde::Serialize for #enum_ident {
            fn serialize<S: #rt::serde::Serializer>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error> {
                let _ = &serializer;
                #matched_serialize
            }
        }

        #[automatically_derived]
        impl<'de> #rt::serde::Deserialize<'de> for #enum_ident {
            fn deserialize<D: #rt::serde::Deserializer<'de>>(deserializer: D) -> ::core::result::Result<Self, D::Error> {
                let fields = <#rt::__private::EventFields as #rt::serde::Deserialize>::deserialize(deserializer)?;
                Self::decode(&fields.event, fields.payload())
                    .map_err(|error| <D::Error as #rt::serde::de::Error>::custom(error.message))
            }
        }
    };
    (declaration, impls)
}

fn dispatcher(decl: &ChannelDecl, rt: &TokenStream) -> TokenStream {
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

fn open(decl: &ChannelDecl, rt: &TokenStream) -> TokenStream {
    let ChannelDecl { ident, name, .. } = decl;
    let trait_ident = handler_trait_ident(decl);
    let dispatch = format_ident!("__{}Dispatch", ident);
    let broadcast = format_ident!("{}Broadcast", ident);
    let outbound = format_ident!("{}Outbound", ident);
    let to_server = enum_ident(decl, Direction::ToServer);
    let to_client = enum_ident(decl, Direction::ToClient);
    let schema = super::render_schema::render(decl, rt);
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

/// One `Codec` constant per distinct payload and response type, spanned at the user's
/// type: the only place that requires the type to be a payload, so that a type missing
/// a derive gives one error there, not one per generated use.
fn codecs(decl: &ChannelDecl, rt: &TokenStream) -> TokenStream {
    let consts = decl.types.iter().enumerate().map(|(index, ty)| {
        let name = format_ident!("__CODEC_{}", index);
        // Every token of the initializer carries the type's span, so the error for a
        // type that is not a payload points at the type, not at the whole attribute.
        let rt = respan(rt, ty.span());
        quote_spanned! {ty.span()=>
            const #name: #rt::__private::Codec<#ty> = #rt::__private::codec::<#ty>();
        }
    });
    quote! {
        #(#consts)*
    }
}

fn respan(tokens: &TokenStream, span: proc_macro2::Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut tree| {
            tree.set_span(span);
            tree
        })
        .collect()
}
