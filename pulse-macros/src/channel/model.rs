//! The parsed model of one `#[channel]` declaration.

use proc_macro2::{Span, TokenStream};
use syn::{Attribute, Ident, Type, Visibility};

/// The whole declaration: the struct it sits on and its events.
pub(crate) struct ChannelDecl {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    /// The wire name (`name = "..."`, or the struct name in snake case).
    pub name: String,
    /// The room key type (`room = RoomId`), for a channel with rooms.
    pub room: Option<Type>,
    /// The metadata of a session's presence (`presence = Online`), for a channel that
    /// tracks who is in each room.
    pub presence: Option<Type>,
    pub events: Vec<EventDecl>,
    /// Each distinct payload and response type, in first-use order; its index names
    /// the codec constant (`__CODEC_0`) that the rendered code goes through.
    pub types: Vec<Type>,
}

impl ChannelDecl {
    /// The codec constant of `ty` (which is one of `types`), in the sealed block.
    pub(crate) fn codec(&self, ty: &Type) -> TokenStream {
        let key = type_key(ty);
        let index = self.types.iter().position(|t| type_key(t) == key).unwrap_or_default();
        let codec = quote::format_ident!("__CODEC_{}", index);
        quote::quote!(#codec)
    }
}

/// Two types are the same codec when written the same way.
pub(crate) fn type_key(ty: &Type) -> String {
    quote::ToTokens::to_token_stream(ty).to_string()
}

/// Who handles an event.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// `=> server`: the client sends, the server handles.
    ToServer,
    /// `=> client`: the server sends, the client handles.
    ToClient,
}

/// One event: `async name(Payload) -> Response => direction`.
pub(crate) struct EventDecl {
    /// Doc comments written before the event.
    pub docs: Vec<Attribute>,
    /// `async`: the handler returns a future.
    pub asyncness: Option<syn::Token![async]>,
    pub ident: Ident,
    /// The name on the wire (the identifier without `r#`).
    pub name: String,
    pub payload: Option<Type>,
    /// The answer type of a request (for `-> Result<T, E>`, the `T`).
    pub response: Option<Type>,
    /// The error type of a fallible request (`-> Result<T, E>`: the `E`).
    pub error: Option<Type>,
    pub direction: Direction,
}

impl EventDecl {
    pub(crate) fn is_request(&self) -> bool {
        self.response.is_some()
    }

    pub(crate) fn is_async(&self) -> bool {
        self.asyncness.is_some()
    }

    /// What the handler returns, before `async`: `T`, or `Result<T, E>`.
    pub(crate) fn handler_output(&self) -> Option<TokenStream> {
        let response = self.response.as_ref()?;
        Some(match &self.error {
            Some(error) => quote::quote!(::core::result::Result<#response, #error>),
            None => quote::quote!(#response),
        })
    }

    /// The variant name in the wire enums (`SendMessage`).
    pub(crate) fn variant(&self) -> Ident {
        Ident::new(&crate::naming::upper_camel(&self.name), self.ident.span())
    }
}

/// The attribute's arguments as written, before checks.
#[derive(Default)]
pub(crate) struct ChannelArgs {
    pub name: Option<(String, Span)>,
    pub room: Option<Type>,
    pub presence: Option<Type>,
    pub events: Option<(Vec<EventDecl>, Span)>,
}
