//! Renders the declaration as a value (`ChannelSchema`) for the TypeScript generator:
//! the body of `ChannelSpec::schema`.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use super::model::{ChannelDecl, Direction};

pub(crate) fn render(decl: &ChannelDecl, rt: &TokenStream) -> TokenStream {
    let ChannelDecl { ident, name, attrs, .. } = decl;
    let rust_name = ident.to_string();
    let docs = doc_text(attrs);
    let schema = quote!(#rt::typed::schema);
    let events = decl.events.iter().map(|event| {
        let event_name = &event.name;
        let direction = match event.direction {
            Direction::ToServer => quote!(#schema::Direction::ToServer),
            Direction::ToClient => quote!(#schema::Direction::ToClient),
        };
        let type_ref = |ty: &Option<syn::Type>| match ty {
            Some(ty) => {
                let written = tidy_type(&ty.to_token_stream().to_string());
                let codec = decl.codec(ty);
                quote!(::core::option::Option::Some(#codec.type_ref(#written)))
            }
            None => quote!(::core::option::Option::None),
        };
        let payload = type_ref(&event.payload);
        let response = type_ref(&event.response);
        let error = type_ref(&event.error);
        let docs = doc_text(&event.docs);
        quote! {
            #schema::EventSchema {
                name: #event_name,
                direction: #direction,
                payload: #payload,
                response: #response,
                error: #error,
                docs: #docs,
            }
        }
    });
    let room = match &decl.room {
        Some(ty) => {
            let written = tidy_type(&ty.to_token_stream().to_string());
            let codec = decl.codec(ty);
            quote!(::core::option::Option::Some(#codec.type_ref(#written)))
        }
        None => quote!(::core::option::Option::None),
    };
    let presence = match &decl.presence {
        Some(ty) => {
            let written = tidy_type(&ty.to_token_stream().to_string());
            let codec = decl.codec(ty);
            quote!(::core::option::Option::Some(#codec.type_ref(#written)))
        }
        None => quote!(::core::option::Option::None),
    };
    quote! {
        #schema::ChannelSchema {
            rust_name: #rust_name,
            name: #name,
            docs: #docs,
            room: #room,
            presence: #presence,
            events: ::std::vec![#(#events),*],
        }
    }
}

/// The text of `///` comments, one line each.
fn doc_text(attrs: &[syn::Attribute]) -> String {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `Vec < Message >` (token spacing) → `Vec<Message>`.
fn tidy_type(tokens: &str) -> String {
    tokens
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" ,", ",")
        .replace("& ", "&")
}
