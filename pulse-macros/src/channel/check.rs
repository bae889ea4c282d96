//! Every rule a declaration must follow, checked on the model; each violation is an
//! error spanned at the offending tokens.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::{Fields, Item};

use super::model::{ChannelArgs, ChannelDecl, Direction, EventDecl, type_key};
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

/// Builds the model from the item and the arguments, reporting every rule broken. The
/// model is built even then (duplicates dropped, misplaced `async` ignored), so the
/// expansion still declares the channel's items and one mistake gives its own errors,
/// not "cannot find trait `ChatHandler`" wherever the channel is used.
pub(crate) fn check(item: &syn::ItemStruct, args: ChannelArgs, errors: &mut Errors) -> ChannelDecl {
    let name = match args.name {
        Some((name, span)) => {
            check_name(&name, span, "channel", errors);
            name
        }
        None => snake(&item.ident.to_string()),
    };
    let mut events = match args.events {
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
    for event in &mut events {
        split_result(event, errors);
    }
    check_events(&events, errors);
    // The fallback model keeps one event per name, and none whose name is taken.
    let mut seen = std::collections::HashSet::new();
    events.retain(|e| taken_by(e).is_none() && seen.insert(upper_camel(&e.name)));
    for event in &mut events {
        if event.direction == Direction::ToClient {
            event.asyncness = None;
        }
    }
    let mut types: Vec<syn::Type> = Vec::new();
    let used = events.iter().flat_map(|e| e.payload.iter().chain(e.response.iter()).chain(e.error.iter()));
    for ty in args.room.iter().chain(args.presence.iter()).chain(used) {
        if !types.iter().any(|t| type_key(t) == type_key(ty)) {
            types.push(ty.clone());
        }
    }
    ChannelDecl {
        attrs: item.attrs.clone(),
        vis: item.vis.clone(),
        ident: item.ident.clone(),
        name,
        room: args.room,
        presence: args.presence,
        events,
        types,
    }
}

/// A request declared `-> Result<T, E>` is fallible: its answer is `T`, its error `E`
/// (sent typed to the client). Only requests the server handles may fail.
fn split_result(event: &mut EventDecl, errors: &mut Errors) {
    let Some(syn::Type::Path(path)) = &event.response else { return };
    let Some(last) = path.path.segments.last() else { return };
    if last.ident != "Result" || path.qself.is_some() {
        return;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else { return };
    let types: Vec<&syn::Type> = args
        .args
        .iter()
        .filter_map(|a| match a {
            syn::GenericArgument::Type(ty) => Some(ty),
            _ => None,
        })
        .collect();
    let [ok, error] = types.as_slice() else {
        errors
            .at(&last.ident, "a fallible request is declared `-> Result<Answer, Error>`, with both types written out");
        return;
    };
    if event.direction == Direction::ToClient {
        errors.at(
            &last.ident,
            format!(
                "`{}` is answered by the client, which cannot fail it with a typed error; declare the answer \
                 type alone, or make it an enum that says what went wrong",
                event.name
            ),
        );
        return;
    }
    let (ok, error) = ((*ok).clone(), (*error).clone());
    event.response = Some(ok);
    event.error = Some(error);
}

fn check_events(events: &[EventDecl], errors: &mut Errors) {
    let mut by_name: HashMap<&str, &EventDecl> = HashMap::new();
    let mut by_variant: HashMap<String, &EventDecl> = HashMap::new();
    for event in events {
        check_name(&event.name, event.ident.span(), "event", errors);
        if let Some(taken) = taken_by(event) {
            errors.at(&event.ident, format!("event name `{}` is taken by {taken}; rename the event", event.name));
        }
        if let (Some(token), Direction::ToClient) = (&event.asyncness, event.direction) {
            errors.at(
                token,
                format!(
                    "`async` is for events the server handles (`=> server`); `{}` is handled by the client",
                    event.name
                ),
            );
        }
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

/// Methods of `Channel<C>` and `ChannelCx<C>`, which a `=> client` event (a method of the
/// outbound type they deref to) would be hidden behind.
const CHANNEL_METHODS: [&str; 12] = [
    "id",
    "name",
    "room",
    "broadcast",
    "broadcast_others",
    "session",
    "close",
    "is_closed",
    "raw",
    "channel",
    "track",
    "untrack",
];

/// Methods of a generated broadcast type besides the events.
const BROADCAST_METHODS: [&str; 3] = ["except", "to_user", "to_session"];

/// What already has an event's name, where the event's generated method would go.
fn taken_by(event: &EventDecl) -> Option<String> {
    let name = event.name.as_str();
    match event.direction {
        Direction::ToServer if matches!(name, "on_open" | "on_close") => {
            Some(format!("the handler's lifecycle hook `{name}`"))
        }
        Direction::ToClient if CHANNEL_METHODS.contains(&name) => Some(format!(
            "`Channel::{name}` (a `=> client` event becomes a method of the channel, which would be hidden)"
        )),
        Direction::ToClient if !event.is_request() && BROADCAST_METHODS.contains(&name) => {
            Some(format!("the broadcast's `{name}` (a `=> client` event is also a broadcast method)"))
        }
        _ => None,
    }
}
