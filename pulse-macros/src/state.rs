//! `#[state]`: marks a struct (or enum) as component state.
//!
//! It takes no arguments (checked with syn: any token is an error at that token) and
//! goes on a struct or an enum. The `State` impl is emitted whenever there is a type to
//! put it on, errors or not, so a mistake in the attribute does not turn every
//! `cx.init(..)` of the type into "is not component state".

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::Parser;

use crate::errors::Errors;

/// The type the attribute marks.
struct StateDecl<'a> {
    ident: &'a syn::Ident,
    generics: &'a syn::Generics,
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let no_arguments = |input: syn::parse::ParseStream<'_>| -> syn::Result<()> {
        if input.is_empty() { Ok(()) } else { Err(input.error("#[state] takes no arguments: write `#[state]`")) }
    };
    if let Err(error) = no_arguments.parse2(attr) {
        errors.push(error);
    }
    let parsed: syn::Item = match syn::parse2(item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => return error.to_compile_error(),
    };
    let decl = match &parsed {
        syn::Item::Struct(s) => Some(StateDecl { ident: &s.ident, generics: &s.generics }),
        syn::Item::Enum(e) => Some(StateDecl { ident: &e.ident, generics: &e.generics }),
        syn::Item::Fn(f) => {
            errors.at(f.sig.fn_token, "#[state] goes on the struct that holds a component's state, not on a function");
            None
        }
        other => {
            errors.at(other, "#[state] goes on the struct that holds a component's state");
            None
        }
    };
    let rt = crate::runtime_path::runtime_path();
    let state_impl = decl.map(|StateDecl { ident, generics }| {
        let (impl_generics, type_generics, where_clause) = generics.split_for_impl();
        quote! {
            #[automatically_derived]
            impl #impl_generics #rt::component::State for #ident #type_generics #where_clause {}
        }
    });
    let errors = errors.into_compile_errors();
    quote! {
        #item
        #state_impl
        #errors
    }
}
