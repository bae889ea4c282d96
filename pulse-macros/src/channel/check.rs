//! Every rule a declaration must follow, checked on the model; each violation is an
//! error spanned at the offending tokens.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::{Fields, Item};

use super::model::{ChannelArgs, ChannelDecl, EventDecl, type_key};
use crate::errors::Errors;
use crate::naming::{snake, upper_camel};

/// Longest channel or event name, as in the protocol.
const MAX_NAME_LEN: usize = 64;

/// Checks the item the attribute sits on: a unit struct.
pub(crate) fn check_item(item: &Item, errors: &mut Errors) {
    const HINT: &str = "#[channel] goes on a unit struct that names the channel: `pub struct Chat;`";
    match item {
        Item::Struct(s) => match &s.fields {
            Fields::Unit => {}
            fields => errors.at(fields, format!("a channel declaration has no fields; {HINT}")),
        },
        Item::Enum(e) => errors.at(e.enum_token, format!("#[channel] cannot be used on an enum; {HINT}")),
        Item::Fn(f) => errors.at(f.sig.fn_token, format!("#[channel] cannot be used on a function; {HINT}")),
        other => errors.at(other, format!("#[channel] cannot be used here; {HINT}")),
    }
    if let Item::Struct(s) = item {
        if !s.generics.params.is_empty() {
            errors.at(&s.generics, "a channel declaration cannot be generic");
        }
    }
}

/// Builds the checked model from the item and the arguments.
pub(crate) fn check(item: &syn::ItemStruct, args: ChannelArgs, errors: &mut Errors) -> Option<ChannelDecl> {
    let name = match args.name {
        Some((name, span)) => {
            check_name(&name, span, "channel", errors);
            name
        }
        None => snake(&item.ident.to_string()),
    };
    let events = match args.events {
        Some((events, span)) => {
            if events.is_empty() {
                errors.push(syn::Error::new(span, "a channel needs at least one event in `events(...)`"));
            }
            events
        }
        None => {
            errors.push(syn::Error::new(
                Span::call_site(),
                "missing `events(...)`: list the channel's events, e.g. `events(send(Message) => server)`",
            ));
            Vec::new()
        }
    };
    check_events(&events, errors);
    let mut types: Vec<syn::Type> = Vec::new();
    for ty in events.iter().flat_map(|e| e.payload.iter().chain(e.response.iter())) {
        if !types.iter().any(|t| type_key(t) == type_key(ty)) {
            types.push(ty.clone());
        }
    }
    errors.is_empty().then(|| ChannelDecl {
        attrs: item.attrs.clone(),
        vis: item.vis.clone(),
        ident: item.ident.clone(),
        name,
        events,
        types,
    })
}

fn check_events(events: &[EventDecl], errors: &mut Errors) {
    let mut by_name: HashMap<&str, &EventDecl> = HashMap::new();
    let mut by_variant: HashMap<String, &EventDecl> = HashMap::new();
    for event in events {
        check_name(&event.name, event.ident.span(), "event", errors);
        if by_name.insert(&event.name, event).is_some() {
            errors.at(
                &event.ident,
                format!("event `{}` is declared twice; every event of a channel needs its own name", event.name),
            );
            continue;
        }
        if let Some(first) = by_variant.insert(upper_camel(&event.name), event) {
            errors.at(
                &event.ident,
                format!("events `{}` and `{}` differ only in underscores; rename one", first.name, event.name),
            );
        }
    }
}

fn check_name(name: &str, span: Span, what: &str, errors: &mut Errors) {
    let error = |message: String| syn::Error::new(span, message);
    if name.starts_with("__") || name.starts_with("pulse_") {
        errors.push(error(format!(
            "{what} name `{name}` is reserved: names starting with `__` or `pulse_` belong to the protocol"
        )));
    } else if name.is_empty() || !name.is_ascii() {
        errors.push(error(format!("{what} name `{name}` must be ASCII letters, digits and `_`")));
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        || !name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
    {
        errors.push(error(format!(
            "{what} name `{name}` must start with a letter or `_` and hold only letters, digits and `_`"
        )));
    } else if name.len() > MAX_NAME_LEN {
        errors.push(error(format!("{what} name `{name}` is longer than {MAX_NAME_LEN} bytes")));
    }
}
