//! `#[component]` on a function (a server component) and `#[component(client)]` on a
//! struct (the props of a client component implemented in TypeScript).

mod client;
mod server;

use proc_macro2::TokenStream;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr_text = attr.to_string();
    match attr_text.trim() {
        "" => server::expand(item),
        "client" => client::expand(item),
        _ => {
            let hint = match crate::naming::did_you_mean(attr_text.trim(), ["client"]) {
                Some(c) => format!("; did you mean `{c}`?"),
                None => String::new(),
            };
            let error = syn::Error::new_spanned(
                &attr,
                format!(
                    "unknown #[component] argument: use `#[component]` on a function or `#[component(client)]` on a props struct{hint}"
                ),
            );
            let errors = error.to_compile_error();
            quote::quote! { #item #errors }
        }
    }
}
