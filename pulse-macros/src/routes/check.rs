//! The rules a route enum follows, each broken one reported at the user's tokens.

use super::model::{Page, Pattern, RoutesDecl, Template, TemplatePart};
use crate::errors::Errors;

pub(crate) fn check(decl: &RoutesDecl, errors: &mut Errors) {
    for page in &decl.pages {
        check_fields(page, errors);
        for template in page.title.iter().chain(&page.description) {
            check_template(page, template, errors);
        }
    }
    // Two routes of one shape would match the same addresses: the second never would.
    for (i, page) in decl.pages.iter().enumerate() {
        let same = |other: &&Page| same_addresses((&other.pattern, other), (&page.pattern, page));
        if let Some(first) = decl.pages[..i].iter().find(same) {
            errors.push(syn::Error::new(
                page.pattern.span,
                format!(
                    "`{}` matches the same addresses as `{}`'s `{}`, which comes first",
                    page.pattern.text, first.ident, first.pattern.text
                ),
            ));
        }
    }
    for redirect in &decl.redirects {
        let Some(page) = decl.pages.iter().find(|page| page.ident == redirect.to) else {
            let names: Vec<String> = decl.pages.iter().map(|p| p.ident.to_string()).collect();
            let message = match crate::naming::did_you_mean(&redirect.to.to_string(), names.iter().map(String::as_str))
            {
                Some(near) => format!("no page `{}` to redirect to; did you mean `{near}`?", redirect.to),
                None => format!("no page `{}` to redirect to; the pages are `{}`", redirect.to, names.join("`, `")),
            };
            errors.at(&redirect.to, message);
            continue;
        };
        for name in redirect.pattern.params() {
            if !page.fields.iter().any(|f| f.ident == name) {
                errors.push(syn::Error::new(
                    redirect.pattern.span,
                    format!("`{{{name}}}`: `{}` has no field `{name}` to give it to", page.ident),
                ));
            }
        }
        for field in &page.fields {
            if field.option_of.is_none() && !redirect.pattern.params().any(|name| field.ident == name) {
                errors.push(syn::Error::new(
                    redirect.pattern.span,
                    format!(
                        "this old address does not give `{}`'s `{}`: add `{{{}}}`",
                        page.ident, field.ident, field.ident
                    ),
                ));
            }
        }
        if let Some(other) = decl.pages.iter().find(|p| same_addresses((&p.pattern, p), (&redirect.pattern, page))) {
            errors.push(syn::Error::new(
                redirect.pattern.span,
                format!(
                    "`{}` is `{}`'s address already; a redirect needs an address of its own",
                    redirect.pattern.text, other.ident
                ),
            ));
        }
    }
}

/// Each `{param}` is a field and each field a `{param}`; a path's are always there.
fn check_fields(page: &Page, errors: &mut Errors) {
    for name in page.pattern.params() {
        if !page.fields.iter().any(|f| f.ident == name) {
            let hint = if page.braced {
                format!("add `{name}: Type` to `{}`", page.ident)
            } else {
                format!("write `{} {{ {name}: Type }}`", page.ident)
            };
            errors.push(syn::Error::new(page.pattern.span, format!("`{{{name}}}` has no field: {hint}")));
        }
    }
    for field in &page.fields {
        let name = field.ident.to_string();
        if !page.pattern.params().any(|param| param == name) {
            errors.at(
                &field.ident,
                format!(
                    "`{name}` is not in `{}`'s address: add `{{{name}}}` to its path or `?{{{name}}}` to its query",
                    page.ident
                ),
            );
        } else if page.pattern.in_path(&name) && field.option_of.is_some() {
            errors.at(
                &field.ty,
                format!(
                    "a path's `{{{name}}}` is always there: make it `?{{{name}}}` (a query parameter) to be optional"
                ),
            );
        }
    }
}

/// Whether two patterns (each with the page whose fields it fills) match the same
/// addresses: the same path shape, and the same required query parameters (optional
/// ones never decide a match).
fn same_addresses(a: (&Pattern, &Page), b: (&Pattern, &Page)) -> bool {
    a.0.shape() == b.0.shape() && required(a) == required(b)
}

/// The query parameters a pattern requires: those whose field is not an `Option`.
fn required<'a>((pattern, page): (&'a Pattern, &Page)) -> std::collections::BTreeSet<&'a str> {
    let optional = |name: &str| page.fields.iter().any(|f| f.ident == name && f.option_of.is_some());
    pattern.query.iter().map(String::as_str).filter(|name| !optional(name)).collect()
}

/// Each `{field}` of a title or description names one of the page's fields.
fn check_template(page: &Page, template: &Template, errors: &mut Errors) {
    for part in &template.parts {
        let TemplatePart::Field(name) = part else { continue };
        if page.fields.iter().any(|field| field.ident == name) {
            continue;
        }
        let names: Vec<String> = page.fields.iter().map(|field| field.ident.to_string()).collect();
        let message = match crate::naming::did_you_mean(name, names.iter().map(String::as_str)) {
            Some(near) => format!("`{{{name}}}`: `{}` has no field `{name}`; did you mean `{near}`?", page.ident),
            None if names.is_empty() => format!("`{{{name}}}`: `{}` has no fields", page.ident),
            None => {
                format!("`{{{name}}}`: `{}` has no field `{name}`; its fields are `{}`", page.ident, names.join("`, `"))
            }
        };
        errors.at(&template.literal, message);
    }
}
