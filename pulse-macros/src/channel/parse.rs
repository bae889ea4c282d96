//! Parsing `#[channel(name = "...", events(...))]` into the model, recovering after
//! each malformed part so that every mistake is reported in one go.

use proc_macro2::{TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Ident, LitStr, Token, Type};

use super::model::{ChannelArgs, Direction, EventDecl};
use crate::errors::Errors;
use crate::naming::did_you_mean;

const KEYS: [&str; 4] = ["name", "room", "presence", "events"];
const DIRECTIONS: [&str; 2] = ["server", "client"];

pub(crate) fn parse_args(attr: TokenStream, errors: &mut Errors) -> ChannelArgs {
    let mut args = ChannelArgs::default();
    let parser = |input: ParseStream<'_>| {
        while !input.is_empty() {
            if let Err(error) = parse_arg(input, &mut args, errors) {
                errors.push(error);
                skip_past_comma(input);
                continue;
            }
            if !input.is_empty() {
                if let Err(error) = input.parse::<Token![,]>() {
                    errors.push(error);
                    skip_past_comma(input);
                }
            }
        }
        Ok(())
    };
    if let Err(error) = parser.parse2(attr) {
        errors.push(error);
    }
    args
}

fn parse_arg(input: ParseStream<'_>, args: &mut ChannelArgs, errors: &mut Errors) -> syn::Result<()> {
    let key: Ident = input.parse()?;
    match key.to_string().as_str() {
        "name" => {
            input.parse::<Token![=]>()?;
            let lit: LitStr = input.parse()?;
            if args.name.is_some() {
                errors.at(&key, "`name` is given twice");
            }
            args.name = Some((lit.value(), lit.span()));
        }
        "room" => {
            input.parse::<Token![=]>()?;
            let ty: Type = input.parse()?;
            if args.room.is_some() {
                errors.at(&key, "`room` is given twice");
            }
            args.room = Some(ty);
        }
        "presence" => {
            input.parse::<Token![=]>()?;
            let ty: Type = input.parse()?;
            if args.presence.is_some() {
                errors.at(&key, "`presence` is given twice");
            }
            args.presence = Some(ty);
        }
        "events" => {
            let content;
            syn::parenthesized!(content in input);
            let events = parse_events(&content, errors);
            if args.events.is_some() {
                errors.at(&key, "`events(...)` is given twice; list every event in one `events(...)`");
            }
            args.events = Some((events, key.span()));
        }
        other => {
            let hint = match did_you_mean(other, KEYS) {
                Some(key) => format!("; did you mean `{key}`?"),
                None => String::new(),
            };
            // Skip the key's value so the next key is still read.
            if input.peek(Token![=]) {
                input.parse::<Token![=]>()?;
                input.parse::<TokenTree>()?;
            } else if input.peek(syn::token::Paren) {
                input.parse::<TokenTree>()?;
            }
            return Err(syn::Error::new(
                key.span(),
                format!(
                    "unknown key `{other}` in #[channel]: expected `name = \"...\"`, `room = Type`, `presence = Type` or `events(...)`{hint}"
                ),
            ));
        }
    }
    Ok(())
}

fn parse_events(input: ParseStream<'_>, errors: &mut Errors) -> Vec<EventDecl> {
    let mut events = Vec::new();
    while !input.is_empty() {
        match parse_event(input) {
            Ok(event) => events.push(event),
            Err(error) => {
                errors.push(error);
                skip_past_comma(input);
                continue;
            }
        }
        if !input.is_empty() {
            if let Err(error) = input.parse::<Token![,]>() {
                errors.push(syn::Error::new(error.span(), "expected `,` between events"));
                skip_past_comma(input);
            }
        }
    }
    events
}

/// `async name(Payload) -> Response => server`, with optional doc comments before it.
fn parse_event(input: ParseStream<'_>) -> syn::Result<EventDecl> {
    let docs = input.call(Attribute::parse_outer)?;
    let asyncness: Option<Token![async]> = input.parse()?;
    let ident: Ident = input.call(syn::ext::IdentExt::parse_any)?;
    if !input.peek(syn::token::Paren) {
        return Err(syn::Error::new(
            ident.span(),
            format!("expected `(` after `{ident}`: write `{ident}(PayloadType) => server` or `{ident}() => client`"),
        ));
    }
    let content;
    syn::parenthesized!(content in input);
    let payload = if content.is_empty() {
        None
    } else {
        let ty: Type = content.parse()?;
        if !content.is_empty() {
            let error = syn::Error::new(
                content.span(),
                "an event carries one payload type; put several values in a struct or a tuple `(A, B)`",
            );
            // Consume the rest, or syn adds its own "expected `)`" for the leftovers.
            content.parse::<TokenStream>()?;
            return Err(error);
        }
        Some(ty)
    };
    let response = if input.peek(Token![->]) {
        input.parse::<Token![->]>()?;
        Some(input.parse::<Type>()?)
    } else {
        None
    };
    if !input.peek(Token![=>]) {
        return Err(input.error(format!(
            "expected `=> server` or `=> client` after `{ident}(..)`: the direction says who handles the event"
        )));
    }
    input.parse::<Token![=>]>()?;
    let direction: Ident = input.parse().map_err(|e| syn::Error::new(e.span(), "expected `server` or `client`"))?;
    let direction = match direction.to_string().as_str() {
        "server" => Direction::ToServer,
        "client" => Direction::ToClient,
        other => {
            let hint = match did_you_mean(other, DIRECTIONS) {
                Some(d) => format!("; did you mean `{d}`?"),
                None => String::new(),
            };
            return Err(syn::Error::new(
                direction.span(),
                format!("unknown direction `{other}`: expected `server` (the server handles it) or `client`{hint}"),
            ));
        }
    };
    let name = ident.to_string().trim_start_matches("r#").to_owned();
    Ok(EventDecl { docs, asyncness, ident, name, payload, response, error: None, direction })
}

/// Error recovery: drop tokens up to and including the next top-level `,` (commas
/// inside `<...>` belong to a type, so angle-bracket depth is tracked).
fn skip_past_comma(input: ParseStream<'_>) {
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        let mut depth = 0usize;
        let mut previous: Option<char> = None;
        while let Some((tree, next)) = rest.token_tree() {
            rest = next;
            if let TokenTree::Punct(p) = &tree {
                let c = p.as_char();
                match c {
                    '<' => depth += 1,
                    // `->` and `=>` are not closing brackets.
                    '>' if !matches!(previous, Some('-' | '=')) => depth = depth.saturating_sub(1),
                    ',' if depth == 0 => return Ok(((), rest)),
                    _ => {}
                }
                previous = Some(c);
            } else {
                previous = None;
            }
        }
        Ok(((), rest))
    });
}
