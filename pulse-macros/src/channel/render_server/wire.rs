//! The wire enums of each direction, and the payload codecs.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::{enum_ident, events, respan};
use crate::channel::model::{ChannelDecl, Direction, EventDecl};

pub(super) fn wire_enum(decl: &ChannelDecl, rt: &TokenStream, direction: Direction) -> (TokenStream, TokenStream) {
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

/// One `Codec` constant per distinct payload and response type, spanned at the user's
/// type: the only place that requires the type to be a payload, so that a type missing
/// a derive gives one error there, not one per generated use.
pub(super) fn codecs(decl: &ChannelDecl, rt: &TokenStream) -> TokenStream {
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
