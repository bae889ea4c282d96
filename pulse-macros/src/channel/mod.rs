//! `#[channel]`: parse → check → render (server side and schema).

mod check;
mod model;
mod parse;
mod render_schema;
mod render_server;

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let parsed: syn::Item = match syn::parse2(item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => return error.to_compile_error(),
    };
    check::check_item(&parsed, &mut errors);
    let args = parse::parse_args(attr, &mut errors);
    let decl = match &parsed {
        syn::Item::Struct(item) => check::check(item, args, &mut errors),
        _ => None,
    };
    match decl {
        Some(decl) => {
            let rt = crate::runtime_path::runtime_path();
            let server = render_server::render(&decl, &rt);
            let schema = render_schema::render(&decl, &rt);
            quote! { #server #schema }
        }
        // The item as written, plus every error: one mistake gives its own errors and
        // not a cascade of "cannot find type" elsewhere in the user's code.
        None => {
            let errors = errors.into_compile_errors();
            quote! { #item #errors }
        }
    }
}
