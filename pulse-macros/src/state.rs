//! `#[state]`: marks a struct (or enum) as component state.

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = crate::errors::Errors::default();
    if !attr.is_empty() {
        errors.at(&attr, "#[state] takes no arguments");
    }
    let parsed: syn::Item = match syn::parse2(item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => return error.to_compile_error(),
    };
    let (ident, generics) = match &parsed {
        syn::Item::Struct(s) => (&s.ident, &s.generics),
        syn::Item::Enum(e) => (&e.ident, &e.generics),
        syn::Item::Fn(f) => {
            errors.at(f.sig.fn_token, "#[state] goes on the struct that holds a component's state, not on a function");
            return with_errors(item, errors);
        }
        other => {
            errors.at(other, "#[state] goes on the struct that holds a component's state");
            return with_errors(item, errors);
        }
    };
    if !errors.is_empty() {
        return with_errors(item, errors);
    }
    let rt = crate::runtime_path::runtime_path();
    let (impl_generics, type_generics, where_clause) = generics.split_for_impl();
    quote! {
        #item
        impl #impl_generics #rt::component::State for #ident #type_generics #where_clause {}
    }
}

fn with_errors(item: TokenStream, errors: crate::errors::Errors) -> TokenStream {
    let errors = errors.into_compile_errors();
    quote! { #item #errors }
}
