//! `#[component]` on a function (a server component) and `#[component(client)]` on a
//! struct (the props of a client component implemented in TypeScript).
//!
//! Like `#[channel]`: the arguments are parsed with syn, the item is read into a model
//! ([`model`]) while every rule is checked (all errors collected, each spanned at the
//! user's tokens), and the output is rendered from the model — even when there were
//! errors, as a skeleton, so a mistake gives its own errors and not "expected struct,
//! found function" wherever the component is used.

mod client;
mod model;
mod server;

use proc_macro2::TokenStream;
use syn::parse::{ParseStream, Parser};

use crate::errors::Errors;

/// Which kind of component the attribute declares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `#[component]`: a server component, on a function.
    Server,
    /// `#[component(client)]`: a client component's props, on a struct.
    Client,
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let kind = parse_kind(attr, &mut errors);
    match kind {
        Kind::Server => server::expand(item, errors),
        Kind::Client => client::expand(item, errors),
    }
}

/// Nothing, or `client`. A wrong argument is reported and the item is read as the kind
/// its shape says (a function is a server component), so its own errors still show.
fn parse_kind(attr: TokenStream, errors: &mut Errors) -> Kind {
    let parser = |input: ParseStream<'_>| -> syn::Result<Option<syn::Ident>> {
        if input.is_empty() {
            return Ok(None);
        }
        let ident: syn::Ident = input.call(syn::ext::IdentExt::parse_any)?;
        if !input.is_empty() {
            return Err(input.error("#[component] takes at most one argument: `#[component(client)]`"));
        }
        Ok(Some(ident))
    };
    match parser.parse2(attr) {
        Ok(None) => Kind::Server,
        Ok(Some(ident)) if ident == "client" => Kind::Client,
        Ok(Some(ident)) => {
            let hint = match crate::naming::did_you_mean(&ident.to_string(), ["client"]) {
                Some(c) => format!("; did you mean `{c}`?"),
                None => String::new(),
            };
            errors.at(
                &ident,
                format!(
                    "unknown #[component] argument `{ident}`: use `#[component]` on a function or \
                     `#[component(client)]` on a props struct{hint}"
                ),
            );
            Kind::Server
        }
        Err(error) => {
            errors.push(error);
            Kind::Server
        }
    }
}
