//! `#[component(client)] pub struct ChatClient { pub channel_id: ChannelId<Chat> }`:
//! the props of a component implemented in TypeScript. The struct serializes with
//! camelCase field names (the TypeScript convention) and its TypeScript type is
//! `ChatClientProps`, which pulse-client-gen writes.

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;

pub(crate) fn expand(item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let parsed: syn::Item = match syn::parse2(item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => return error.to_compile_error(),
    };
    let strukt = match parsed {
        syn::Item::Struct(s) => s,
        syn::Item::Fn(f) => {
            errors.at(
                f.sig.fn_token,
                "#[component(client)] goes on the props struct of a component implemented in TypeScript; \
                 a server component is a function with #[component]",
            );
            return fail(item, errors);
        }
        other => {
            errors.at(&other, "#[component(client)] goes on a props struct: `pub struct ChatClient { .. }`");
            return fail(item, errors);
        }
    };
    if !strukt.generics.params.is_empty() {
        errors.at(&strukt.generics, "a client component's props cannot be generic");
    }
    if matches!(strukt.fields, syn::Fields::Unnamed(_)) {
        errors.at(&strukt.fields, "a client component's props have names: use `{ field: Type }`");
    }
    if !errors.is_empty() {
        return fail(item, errors);
    }

    let rt = crate::runtime_path::runtime_path();
    let ident = &strukt.ident;
    let name = ident.to_string();
    let ts_name = format!("{name}Props");
    let serde_crate = quote!(#rt::serde).to_string().replace(' ', "");
    let ts_crate = quote!(#rt::ts_rs).to_string().replace(' ', "");
    let has_rename_all = strukt.attrs.iter().any(|a| {
        a.path().is_ident("serde") && a.meta.require_list().is_ok_and(|l| l.tokens.to_string().contains("rename_all"))
    });
    let rename_all = (!has_rename_all).then(|| quote!(#[serde(rename_all = "camelCase")]));
    quote! {
        #[derive(#rt::serde::Serialize, #rt::ts_rs::TS)]
        #[serde(crate = #serde_crate)]
        #rename_all
        #[ts(crate = #ts_crate, rename = #ts_name)]
        #strukt

        impl #rt::component::ClientComponent for #ident {
            const NAME: &'static str = #name;
        }

        impl #rt::component::IntoNode for #ident {
            fn into_node(self) -> #rt::component::Node {
                #rt::component::Node::Client(#rt::component::ClientComponent::into_client_node(self))
            }
        }
    }
}

fn fail(item: TokenStream, errors: Errors) -> TokenStream {
    let errors = errors.into_compile_errors();
    quote! { #item #errors }
}
