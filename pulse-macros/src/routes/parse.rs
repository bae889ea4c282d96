//! Reads the enum and its `#[route]`/`#[redirect]` attributes, every error collected.

use proc_macro2::Span;

use super::model::{Field, Page, Pattern, Redirect, RoutesDecl, Segment, Template, TemplatePart};
use crate::errors::Errors;

pub(crate) fn parse(input: &syn::DeriveInput, errors: &mut Errors) -> Option<RoutesDecl> {
    let syn::Data::Enum(data) = &input.data else {
        errors.at(&input.ident, "`#[derive(Routes)]` goes on an enum, one variant per page");
        return None;
    };
    let mut redirects = Vec::new();
    for attr in &input.attrs {
        if attr.path().is_ident("route") {
            errors.at(attr, "`#[route(..)]` goes on each variant (a page), not on the enum");
        } else if attr.path().is_ident("redirect") {
            match attr.parse_args_with(redirect_args) {
                Ok((literal, to)) => {
                    if let Some(pattern) = pattern(&literal, errors) {
                        redirects.push(Redirect { pattern, to });
                    }
                }
                Err(error) => errors.push(error),
            }
        }
    }
    let mut pages = Vec::new();
    for variant in &data.variants {
        if let Some(page) = page(variant, errors) {
            pages.push(page);
        }
    }
    Some(RoutesDecl { ident: input.ident.clone(), pages, redirects })
}

fn redirect_args(input: syn::parse::ParseStream<'_>) -> syn::Result<(syn::LitStr, syn::Ident)> {
    let literal: syn::LitStr = input.parse()?;
    input.parse::<syn::Token![,]>().map_err(|e| {
        syn::Error::new(e.span(), "expected `, to = Page` after the old address: `#[redirect(\"/old\", to = Page)]`")
    })?;
    let key: syn::Ident = input.parse()?;
    if key != "to" {
        return Err(syn::Error::new(key.span(), "expected `to = Page`: the page the old address leads to"));
    }
    input.parse::<syn::Token![=]>()?;
    let to: syn::Ident = input.parse()?;
    if !input.is_empty() {
        return Err(input.error("unexpected tokens after `to = Page`"));
    }
    Ok((literal, to))
}

fn page(variant: &syn::Variant, errors: &mut Errors) -> Option<Page> {
    let routes: Vec<&syn::Attribute> = variant.attrs.iter().filter(|a| a.path().is_ident("route")).collect();
    if routes.len() > 1 {
        errors.at(routes[1], "a page has one `#[route(..)]`; add an old address with `#[redirect(..)]` on the enum");
    }
    let Some(attr) = routes.first() else {
        errors.at(&variant.ident, format!("`{}` needs its address: `#[route(\"/path\")]`", variant.ident));
        return None;
    };
    let RouteArgs { address: literal, title, description } = match attr.parse_args_with(route_args) {
        Ok(args) => args,
        Err(error) if error.to_string().starts_with("expected the page's address") => {
            errors.at(attr, error);
            return None;
        }
        Err(error) => {
            errors.push(error);
            return None;
        }
    };
    let title = title.and_then(|literal| template(literal, errors));
    let description = description.and_then(|literal| template(literal, errors));
    let pattern = pattern(&literal, errors)?;
    let (fields, braced) = match &variant.fields {
        syn::Fields::Unit => (Vec::new(), false),
        syn::Fields::Named(named) => (named.named.iter().map(field).collect(), true),
        syn::Fields::Unnamed(unnamed) => {
            errors.at(
                unnamed,
                "a page's parameters are named fields, one per `{param}` of its address: `Room { room: RoomId }`",
            );
            return None;
        }
    };
    let docs = docs(&variant.attrs);
    Some(Page { ident: variant.ident.clone(), docs, pattern, fields, braced, title, description })
}

/// `#[route("/rooms/{room}", title = "Chat: {room}", description = "..")]`.
struct RouteArgs {
    address: syn::LitStr,
    title: Option<syn::LitStr>,
    description: Option<syn::LitStr>,
}

fn route_args(input: syn::parse::ParseStream<'_>) -> syn::Result<RouteArgs> {
    let address: syn::LitStr = input.parse().map_err(|e| {
        syn::Error::new(e.span(), "expected the page's address as a string: `#[route(\"/rooms/{room}\")]`")
    })?;
    let mut args = RouteArgs { address, title: None, description: None };
    while !input.is_empty() {
        input.parse::<syn::Token![,]>()?;
        if input.is_empty() {
            break;
        }
        let key: syn::Ident = input.parse()?;
        let slot = match key.to_string().as_str() {
            "title" => &mut args.title,
            "description" => &mut args.description,
            _ => {
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown route setting `{key}`: expected `title = \"..\"` or `description = \"..\"`"),
                ));
            }
        };
        if slot.is_some() {
            return Err(syn::Error::new(key.span(), format!("`{key}` is given twice")));
        }
        input.parse::<syn::Token![=]>()?;
        *slot = Some(input.parse()?);
    }
    Ok(args)
}

/// Reads `"Chat: {room}"`: texts and the fields named in braces (`{{`, `}}`: a brace).
fn template(literal: syn::LitStr, errors: &mut Errors) -> Option<Template> {
    let text = literal.value();
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                current.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                current.push('}');
            }
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed {
                    errors.at(&literal, format!("`{{{name}` is not closed: write `{{{name}}}`, or `{{{{` for a brace"));
                    return None;
                }
                if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    errors.at(
                        &literal,
                        format!("`{{{name}}}` is not a field's name: write `{{field}}`, or `{{{{` for a brace"),
                    );
                    return None;
                }
                parts.push(TemplatePart::Text(std::mem::take(&mut current)));
                parts.push(TemplatePart::Field(name));
            }
            '}' => {
                errors.at(&literal, "a `}` with no `{` before it: write `}}` for a brace");
                return None;
            }
            c => current.push(c),
        }
    }
    parts.push(TemplatePart::Text(current));
    parts.retain(|part| !matches!(part, TemplatePart::Text(text) if text.is_empty()));
    Some(Template { parts, literal })
}

fn field(field: &syn::Field) -> Field {
    let ident = field.ident.clone().unwrap_or_else(|| syn::Ident::new("_", Span::call_site()));
    Field { ident, ty: field.ty.clone(), option_of: option_of(&field.ty) }
}

/// `T` of `Option<T>` (written so, or `std::option::Option<T>`).
fn option_of(ty: &syn::Type) -> Option<syn::Type> {
    let syn::Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    match args.args.first()? {
        syn::GenericArgument::Type(inner) if args.args.len() == 1 => Some(inner.clone()),
        _ => None,
    }
}

fn docs(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(syn::MetaNameValue {
                value: syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }),
                ..
            }) => Some(s.value().trim().to_owned()),
            _ => None,
        })
        .collect();
    lines.join("\n")
}

/// Reads `/rooms/{room}/files/{*path}?{q}&{page}`.
fn pattern(literal: &syn::LitStr, errors: &mut Errors) -> Option<Pattern> {
    let text = literal.value();
    let mut fail = |message: String| {
        errors.at(literal, message);
        None
    };
    let Some(rest) = text.strip_prefix('/') else {
        return fail(format!("an address starts with `/`: `\"/{text}\"`"));
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let mut segments = Vec::new();
    if !path.is_empty() {
        let parts: Vec<&str> = path.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            let segment = if let Some(name) = part.strip_prefix("{*").and_then(|p| p.strip_suffix('}')) {
                if i + 1 != parts.len() {
                    return fail(format!("`{{*{name}}}` takes the rest of the path, so it comes last"));
                }
                Segment::Rest(name.to_owned())
            } else if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Segment::Param(name.to_owned())
            } else if part.is_empty() {
                return fail(if i + 1 == parts.len() {
                    format!("an address has no trailing `/`: `\"/{}\"`", path.trim_end_matches('/'))
                } else {
                    "an address has no empty segment (`//`)".to_owned()
                });
            } else if part.contains(['{', '}']) {
                return fail(format!("`{part}`: a parameter is a whole segment, `{{name}}`"));
            } else if !part.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)) {
                return fail(format!("`{part}` has a character an address writes percent-encoded; write it plainly"));
            } else {
                Segment::Literal((*part).to_owned())
            };
            if let Segment::Param(name) | Segment::Rest(name) = &segment {
                if !is_ident(name) {
                    return fail(format!("`{name}` is not a field name: a parameter is `{{field}}`"));
                }
            }
            segments.push(segment);
        }
    }
    let mut names = Vec::new();
    if let Some(query) = query {
        for part in query.split('&') {
            let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')).filter(|n| is_ident(n)) else {
                return fail(format!("`{part}`: a query is parameters only, `?{{a}}&{{b}}`"));
            };
            names.push(name.to_owned());
        }
    }
    let pattern = Pattern { segments, query: names, span: literal.span(), text };
    let mut seen = Vec::new();
    for name in pattern.params() {
        if seen.contains(&name) {
            return fail(format!("`{{{name}}}` appears twice"));
        }
        seen.push(name);
    }
    Some(pattern)
}

fn is_ident(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
