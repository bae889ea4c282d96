//! `#[component] fn Name(cx: &mut Scope, prop: Type, ...) -> Node`: the function's
//! parameters after the scope become the fields of a props struct named like the
//! function; the struct implements `Component` by calling the function.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{FnArg, ItemFn, Pat, ReturnType, Type};

use super::model::{Prop, ServerComponent};
use crate::errors::Errors;

pub(crate) fn expand(item: TokenStream, mut errors: Errors) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let error = syn::Error::new_spanned(
                &item,
                "#[component] goes on a function `fn Name(cx: &mut Scope, props...) -> Node`; \
                 for a client component's props struct, use #[component(client)]",
            );
            let errors = error.to_compile_error();
            return quote! { #item #errors };
        }
    };
    let component = check(function, &mut errors);
    let rendered = render(&component, errors.is_empty());
    let errors = errors.into_compile_errors();
    quote! { #rendered #errors }
}

/// Reads the function into the model, reporting every rule it breaks.
fn check(function: ItemFn, errors: &mut Errors) -> ServerComponent {
    let ItemFn { attrs, vis, sig, block } = function;
    if let Some(asyncness) = &sig.asyncness {
        errors.at(asyncness, "a component renders synchronously; do async work in tasks or channel handlers");
    }
    if !sig.generics.params.is_empty() {
        errors.at(&sig.generics, "a component cannot be generic");
    }
    if matches!(sig.output, ReturnType::Default) {
        errors.at(&sig.ident, "a component returns what it renders: add `-> Node`");
    }
    let mut inputs = sig.inputs.iter();
    let scope = match inputs.next() {
        Some(FnArg::Typed(scope)) if matches!(&*scope.ty, Type::Reference(r) if r.mutability.is_some()) => {
            Some(scope.clone())
        }
        Some(other) => {
            errors.at(other, "the first parameter of a component is its scope: `cx: &mut Scope`");
            None
        }
        None => {
            errors.at(&sig.ident, "a component takes its scope first: `fn Name(cx: &mut Scope) -> Node`");
            None
        }
    };
    let mut props = Vec::new();
    for input in inputs {
        match input {
            FnArg::Typed(arg) => match &*arg.pat {
                Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                    if let Some(first) = props.iter().find(|p: &&Prop| p.ident == pat.ident) {
                        errors.at(&pat.ident, format!("prop `{}` is given twice", first.ident));
                        continue;
                    }
                    props.push(Prop { attrs: arg.attrs.clone(), ident: pat.ident.clone(), ty: (*arg.ty).clone() })
                }
                other => errors.at(other, "a prop is a plain name: `title: String`"),
            },
            FnArg::Receiver(receiver) => errors.at(receiver, "a component is a free function, not a method"),
        }
    }
    ServerComponent { attrs, vis, ident: sig.ident, scope, props, output: sig.output, block }
}

/// The props struct and its impls. Without `complete` (the declaration had errors) the
/// body is left out: the struct and its traits exist, so uses of the component compile
/// and only the declaration's own mistakes are reported.
fn render(component: &ServerComponent, complete: bool) -> TokenStream {
    let rt = crate::runtime_path::runtime_path();
    let ServerComponent { attrs, vis, ident, scope, props, output, block } = component;
    let name_text = ident.to_string();
    let inner = format_ident!("__render_{}", ident);
    let fields = props.iter().map(|Prop { attrs, ident, ty }| quote!(#(#attrs)* #vis #ident: #ty));
    let params = props.iter().map(|Prop { ident, ty, .. }| quote!(#ident: #ty));
    let idents: Vec<_> = props.iter().map(|p| &p.ident).collect();
    let doc = format!("The props of the `{name_text}` component; place it in a tree as a node.");
    let body = if complete && component.has_body() {
        quote! {
            #[allow(non_snake_case, clippy::too_many_arguments)]
            fn #inner(#scope, #(#params),*) #output #block
            let Self { #(#idents,)* } = ::core::clone::Clone::clone(self);
            #rt::component::IntoRendered::into_rendered(#inner(cx, #(#idents),*))
        }
    } else {
        quote! {
            let _ = cx;
            ::core::unreachable!("the component's declaration did not compile")
        }
    };
    quote! {
        #(#attrs)*
        #[doc = #doc]
        #[derive(Clone)]
        #vis struct #ident {
            #(#fields,)*
        }

        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #rt::component::Component for #ident {
                const NAME: &'static str = #name_text;

                fn render(
                    &self,
                    cx: &mut #rt::component::Scope<'_>,
                ) -> ::core::result::Result<#rt::component::Node, ::std::string::String> {
                    #body
                }
            }

            #[automatically_derived]
            impl #rt::component::IntoNode for #ident {
                fn into_node(self) -> #rt::component::Node {
                    #rt::component::Node::component(self)
                }
            }
        };
    }
}
