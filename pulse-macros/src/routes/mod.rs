//! `#[derive(Routes)]`: model → parse (every error of the input collected) → check →
//! render.

mod check;
mod model;
mod parse;
mod render;

use proc_macro2::TokenStream;

use crate::errors::Errors;
use crate::runtime_path::runtime_path;

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<syn::DeriveInput>(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::default();
    let Some(decl) = parse::parse(&input, &mut errors) else { return errors.into_compile_errors() };
    check::check(&decl, &mut errors);
    if !errors.is_empty() {
        return errors.into_compile_errors();
    }
    render::render(&decl, &runtime_path())
}
