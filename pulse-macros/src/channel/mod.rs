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
        syn::Item::Struct(item) if matches!(item.fields, syn::Fields::Unit) => {
            Some(check::check(item, args, &mut errors))
        }
        _ => None,
    };
    let errors = errors.into_compile_errors();
    match decl {
        // Rendered even with errors (the fallback skeleton, thiserror's way), so the
        // channel's items exist and the errors are only the mistakes themselves.
        Some(decl) => {
            let rt = crate::runtime_path::runtime_path();
            let rendered = render_server::render(&decl, &rt);
            quote! { #rendered #errors }
        }
        // Not a unit struct: the item as written, plus every error.
        None => quote! { #item #errors },
    }
}
