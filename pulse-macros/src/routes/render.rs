//! Renders `Routes` for the enum: the matchers in the order of their specificity, the
//! address writer, and the table as data.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use super::model::{Field, Page, Pattern, RoutesDecl, Segment, Template, TemplatePart};

pub(crate) fn render(decl: &RoutesDecl, rt: &TokenStream) -> TokenStream {
    let ident = &decl.ident;
    // Every matcher, the most specific first: text before a parameter before the rest,
    // segment by segment; then more required query parameters; then declaration order
    // (pages before redirects).
    let mut matchers: Vec<(Vec<u8>, usize, usize, TokenStream)> = Vec::new();
    for (i, page) in decl.pages.iter().enumerate() {
        let matcher = matcher(page, &page.pattern, rt);
        let routed = quote!(#rt::routes::Routed::Page);
        matchers.push((
            page.pattern.rank(),
            usize::MAX - required(page, &page.pattern),
            i,
            quote! {
                if let ::std::option::Option::Some(page) = (|| #matcher)() {
                    return ::std::option::Option::Some(#routed(page));
                }
            },
        ));
    }
    for (i, redirect) in decl.redirects.iter().enumerate() {
        let Some(page) = decl.pages.iter().find(|p| p.ident == redirect.to) else { continue };
        let matcher = matcher(page, &redirect.pattern, rt);
        let routed = quote!(#rt::routes::Routed::Redirect);
        matchers.push((
            redirect.pattern.rank(),
            usize::MAX - required(page, &redirect.pattern),
            decl.pages.len() + i,
            quote! {
                if let ::std::option::Option::Some(page) = (|| #matcher)() {
                    return ::std::option::Option::Some(#routed(page));
                }
            },
        ));
    }
    matchers.sort_by(|a, b| (&a.0, a.1, a.2).cmp(&(&b.0, b.1, b.2)));
    let matchers = matchers.into_iter().map(|(.., tokens)| tokens);
    let hrefs = decl.pages.iter().map(href_arm);
    let schema = decl.pages.iter().map(|page| schema(page, rt));
    let titles = decl.pages.iter().filter_map(|page| text_arm(page, page.title.as_ref()?));
    let descriptions = decl.pages.iter().filter_map(|page| text_arm(page, page.description.as_ref()?));
    quote! {
        #[automatically_derived]
        impl #rt::routes::Routes for #ident {
            fn route(path: &str, query: &str) -> ::std::option::Option<#rt::routes::Routed<Self>> {
                let address = #rt::routes::Address::new(path, query)?;
                #(#matchers)*
                ::std::option::Option::None
            }

            fn href(&self) -> ::std::string::String {
                let mut href = #rt::routes::HrefWriter::new();
                match self {
                    #(#hrefs)*
                }
                href.finish()
            }

            #[allow(unreachable_patterns)]
            fn title(&self) -> ::std::option::Option<::std::string::String> {
                match self {
                    #(#titles)*
                    _ => ::std::option::Option::None,
                }
            }

            #[allow(unreachable_patterns)]
            fn description(&self) -> ::std::option::Option<::std::string::String> {
                match self {
                    #(#descriptions)*
                    _ => ::std::option::Option::None,
                }
            }

            fn schema() -> ::std::vec::Vec<#rt::routes::RouteSchema> {
                ::std::vec![#(#schema),*]
            }
        }

        #[automatically_derived]
        impl ::std::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&#rt::routes::Routes::href(self))
            }
        }
    }
}

/// How many of `pattern`'s query parameters `page` requires.
fn required(page: &Page, pattern: &Pattern) -> usize {
    pattern.query.iter().filter(|name| field(page, name).is_some_and(|f| f.option_of.is_none())).count()
}

fn field<'a>(page: &'a Page, name: &str) -> Option<&'a Field> {
    page.fields.iter().find(|f| f.ident == name)
}

/// An expression: `Some(page)` if `pattern` matches `address`, with `page`'s fields
/// parsed from it.
fn matcher(page: &Page, pattern: &Pattern, rt: &TokenStream) -> TokenStream {
    let span = pattern.span;
    let mut steps = Vec::new();
    let rest = pattern.segments.iter().any(|s| matches!(s, Segment::Rest(_)));
    let count = pattern.segments.len();
    steps.push(if rest {
        quote!(if address.len() < #count { return ::std::option::Option::None; })
    } else {
        quote!(if address.len() != #count { return ::std::option::Option::None; })
    });
    for (at, segment) in pattern.segments.iter().enumerate() {
        steps.push(match segment {
            Segment::Literal(text) => quote!(if !address.is(#at, #text) { return ::std::option::Option::None; }),
            Segment::Param(name) | Segment::Rest(name) => {
                let Some(field) = field(page, name) else { continue };
                let (ident, ty) = (format_ident!("{}", name), &field.ty);
                let read = if matches!(segment, Segment::Rest(_)) { quote!(rest) } else { quote!(param) };
                quote_spanned!(span=> let #ident: #ty = address.#read::<#ty>(#at)?;)
            }
        });
    }
    for name in &pattern.query {
        let Some(field) = field(page, name) else { continue };
        let ident = format_ident!("{}", name);
        let ty = &field.ty;
        steps.push(match &field.option_of {
            Some(inner) => quote_spanned!(span=> let #ident: #ty = address.query::<#inner>(#name)?;),
            None => quote_spanned!(span=> let #ident: #ty = address.query::<#ty>(#name)??;),
        });
    }
    // Fields an old address does not give are `None` (only optional ones may be left out).
    for field in &page.fields {
        if !pattern.params().any(|name| field.ident == name) {
            let ident = &field.ident;
            steps.push(quote!(let #ident = ::std::option::Option::None;));
        }
    }
    let _ = rt;
    let variant = &page.ident;
    let build = if page.braced {
        let names = page.fields.iter().map(|f| &f.ident);
        quote!(Self::#variant { #(#names),* })
    } else {
        quote!(Self::#variant)
    };
    quote!(-> ::std::option::Option<Self> {
        #(#steps)*
        ::std::option::Option::Some(#build)
    })
}

/// The arm of `href` that writes `page`'s address.
fn href_arm(page: &Page) -> TokenStream {
    let variant = &page.ident;
    let names: Vec<_> = page.fields.iter().map(|f| &f.ident).collect();
    let pattern = if page.braced { quote!(Self::#variant { #(#names),* }) } else { quote!(Self::#variant) };
    let mut steps = Vec::new();
    for segment in &page.pattern.segments {
        steps.push(match segment {
            Segment::Literal(text) => quote!(href.literal(#text);),
            Segment::Param(name) => {
                let ident = format_ident!("{}", name);
                quote!(href.param(#ident);)
            }
            Segment::Rest(name) => {
                let ident = format_ident!("{}", name);
                quote!(href.rest(#ident);)
            }
        });
    }
    for name in &page.pattern.query {
        let Some(field) = field(page, name) else { continue };
        let ident = format_ident!("{}", name);
        steps.push(if field.option_of.is_some() {
            quote!(href.query(#name, #ident.as_ref());)
        } else {
            quote!(href.query(#name, ::std::option::Option::Some(#ident));)
        });
    }
    quote!(#pattern => { #(#steps)* })
}

/// `page`'s route as data.
fn schema(page: &Page, rt: &TokenStream) -> TokenStream {
    let name = page.ident.to_string();
    let docs = &page.docs;
    let param = |name: &str, required: bool| {
        let field = field(page, name)?;
        let ty = field.option_of.as_ref().unwrap_or(&field.ty);
        let written = quote!(#ty).to_string();
        Some(quote! {
            #rt::routes::ParamSchema {
                name: #name,
                ty: #rt::typed::schema::TypeRef::of::<#ty>(#written),
                required: #required,
            }
        })
    };
    let segments = page.pattern.segments.iter().filter_map(|segment| match segment {
        Segment::Literal(text) => Some(quote!(#rt::routes::SegmentSchema::Literal(#text))),
        Segment::Param(name) => param(name, true).map(|p| quote!(#rt::routes::SegmentSchema::Param(#p))),
        Segment::Rest(name) => param(name, true).map(|p| quote!(#rt::routes::SegmentSchema::Rest(#p))),
    });
    let query = page.pattern.query.iter().filter_map(|name| {
        let required = field(page, name).is_some_and(|f| f.option_of.is_none());
        param(name, required)
    });
    quote! {
        #rt::routes::RouteSchema {
            name: #name,
            docs: #docs,
            segments: ::std::vec![#(#segments),*],
            query: ::std::vec![#(#query),*],
        }
    }
}

/// The arm writing `page`'s `template` (a title, a description): its texts, and its
/// fields as they display (an optional one only when present).
fn text_arm(page: &Page, template: &Template) -> Option<TokenStream> {
    let variant = &page.ident;
    let used: Vec<&syn::Ident> = page
        .fields
        .iter()
        .filter(|field| {
            template.parts.iter().any(|part| matches!(part, TemplatePart::Field(name) if field.ident == name))
        })
        .map(|field| &field.ident)
        .collect();
    let pattern = if page.braced { quote!(Self::#variant { #(#used,)* .. }) } else { quote!(Self::#variant) };
    // Locals of the macro's own (mixed-site hygiene): a field named `out` is no clash.
    let out = proc_macro2::Ident::new("out", proc_macro2::Span::mixed_site());
    let value = proc_macro2::Ident::new("value", proc_macro2::Span::mixed_site());
    let steps = template.parts.iter().map(|part| match part {
        TemplatePart::Text(text) => quote!(#out.push_str(#text);),
        TemplatePart::Field(name) => {
            let field = field(page, name).expect("checked: a template names the page's fields");
            let ident = &field.ident;
            if field.option_of.is_some() {
                quote!(if let ::std::option::Option::Some(#value) = #ident { let _ = ::std::write!(#out, "{}", #value); })
            } else {
                quote!(let _ = ::std::write!(#out, "{}", #ident);)
            }
        }
    });
    Some(quote! {
        #pattern => {
            use ::std::fmt::Write as _;
            let mut #out = ::std::string::String::new();
            #(#steps)*
            ::std::option::Option::Some(#out)
        }
    })
}
