//! `#[component(client)] pub struct ChatClient { pub channel_id: ChannelId<Chat> }`:
//! the props of a component implemented in TypeScript. The struct serializes with
//! camelCase field names (the TypeScript convention) and its TypeScript type is
//! `ChatClientProps`, which pulse-client-gen writes.

use proc_macro2::TokenStream;
use quote::quote;

use super::model::ClientProps;
use crate::errors::Errors;

pub(crate) fn expand(item: TokenStream, mut errors: Errors) -> TokenStream {
    let parsed: syn::Item = match syn::parse2(item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => return error.to_compile_error(),
    };
    let props = match parsed {
        syn::Item::Struct(item) => check(item, &mut errors),
        syn::Item::Fn(f) => {
            errors.at(
                f.sig.fn_token,
                "#[component(client)] goes on the props struct of a component implemented in TypeScript; \
                 a server component is a function with #[component]",
            );
            None
        }
        other => {
            errors.at(&other, "#[component(client)] goes on a props struct: `pub struct ChatClient { .. }`");
            None
        }
    };
    let errors = errors.into_compile_errors();
    match props {
        Some(props) => {
            let rendered = render(&props);
            quote! { #rendered #errors }
        }
        None => quote! { #item #errors },
    }
}

/// Reads the struct into the model; `None` when it cannot be rendered at all (its own
/// errors are reported either way).
fn check(item: syn::ItemStruct, errors: &mut Errors) -> Option<ClientProps> {
    let mut renderable = true;
    if !item.generics.params.is_empty() {
        errors.at(&item.generics, "a client component's props cannot be generic");
        renderable = false;
    }
    if matches!(item.fields, syn::Fields::Unnamed(_)) {
        errors.at(&item.fields, "a client component's props have names: use `{ field: Type }`");
        renderable = false;
    }
    let mut renames_fields = false;
    for attr in item.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let read = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                renames_fields = true;
            }
            // Skip the value of `key = value` and the contents of `key(...)`.
            if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            } else if meta.input.peek(syn::token::Paren) {
                meta.input.parse::<proc_macro2::Group>()?;
            }
            Ok(())
        });
        if let Err(error) = read {
            errors.push(error);
        }
    }
    renderable.then_some(ClientProps { item, renames_fields })
}

fn render(props: &ClientProps) -> TokenStream {
    let rt = crate::runtime_path::runtime_path();
    let item = &props.item;
    let ident = &item.ident;
    let name = ident.to_string();
    let ts_name = format!("{name}Props");
    // serde and ts-rs take the path of their crate as a string: the runtime's re-exports.
    let serde_crate = path_text(&quote!(#rt::serde));
    let ts_crate = path_text(&quote!(#rt::ts_rs));
    let rename_all = (!props.renames_fields).then(|| quote!(#[serde(rename_all = "camelCase")]));
    quote! {
        #[derive(#rt::serde::Serialize, #rt::ts_rs::TS)]
        #[serde(crate = #serde_crate)]
        #rename_all
        #[ts(crate = #ts_crate, rename = #ts_name)]
        #item

        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #rt::component::ClientComponent for #ident {
                const NAME: &'static str = #name;
            }

            #[automatically_derived]
            impl #rt::component::IntoNode for #ident {
                fn into_node(self) -> #rt::component::Node {
                    #rt::component::Node::Client(#rt::component::ClientComponent::into_client_node(self))
                }
            }
        };
    }
}

/// A path's tokens as the string an attribute wants (`::pulse_runtime::serde`).
fn path_text(path: &TokenStream) -> String {
    path.to_string().split_whitespace().collect()
}
