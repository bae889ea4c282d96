//! How generated code names the runtime crate, even when the user renamed it.

use proc_macro_crate::{FoundCrate, crate_name};
use proc_macro2::{Span, TokenStream};
use quote::quote;

/// The path of `pulse-runtime` as the calling crate sees it: `::pulse_runtime`, or
/// `::my_name` after `my_name = { package = "pulse-runtime" }`. Inside the runtime's own
/// package, `::pulse_runtime` too: the library names itself so (`extern crate self`), and
/// its doc tests, which cargo builds with the same package name, are separate crates
/// that depend on it.
pub(crate) fn runtime_path() -> TokenStream {
    match crate_name("pulse-runtime") {
        Ok(FoundCrate::Itself) => quote!(::pulse_runtime),
        Ok(FoundCrate::Name(name)) => {
            let ident = syn::Ident::new(&name, Span::call_site());
            quote!(::#ident)
        }
        // Not a direct dependency (a facade crate re-exporting it): the usual name.
        Err(_) => quote!(::pulse_runtime),
    }
}
