//! Channel declarations as data: what `pulse-client-gen` renders TypeScript from.

use std::any::TypeId;
use std::collections::HashSet;

use ts_rs::{TS, TypeVisitor};

/// One `#[channel]` declaration.
#[derive(Debug, Clone)]
pub struct ChannelSchema {
    /// The Rust name of the declaration (`Chat`).
    pub rust_name: &'static str,
    /// The channel name on the wire (`chat`).
    pub name: &'static str,
    /// The declaration's doc comment.
    pub docs: &'static str,
    /// The room key type, for a channel with rooms.
    pub room: Option<TypeRef>,
    /// The presence metadata type, for a channel that tracks presence.
    pub presence: Option<TypeRef>,
    /// Every event, in declaration order.
    pub events: Vec<EventSchema>,
}

/// Which side handles an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The client sends, the server handles (`=> server`).
    ToServer,
    /// The server sends, the client handles (`=> client`).
    ToClient,
}

/// One event of a channel.
#[derive(Debug, Clone)]
pub struct EventSchema {
    /// Its name on the wire.
    pub name: &'static str,
    /// Who handles it.
    pub direction: Direction,
    /// Its payload type; `None` for an event without payload (`null` on the wire).
    pub payload: Option<TypeRef>,
    /// For a request, the type of its answer.
    pub response: Option<TypeRef>,
    /// For a fallible request (`-> Result<T, E>`), the type of its error.
    pub error: Option<TypeRef>,
    /// The event's doc comment.
    pub docs: &'static str,
}

impl EventSchema {
    /// Whether the event is a request (it has an answer type).
    pub fn is_request(&self) -> bool {
        self.response.is_some()
    }
}

/// A Rust type as the TypeScript generator needs it.
#[derive(Clone, Copy)]
pub struct TypeRef {
    /// The type as written in the declaration.
    pub rust: &'static str,
    ts_name: fn(&ts_rs::Config) -> String,
    collect: fn(&mut TypeCollector),
}

impl TypeRef {
    /// The reference to `T`, written `rust` in Rust.
    pub fn of<T: TS + 'static>(rust: &'static str) -> Self {
        TypeRef { rust, ts_name: <T as TS>::name, collect: collect_type::<T> }
    }

    pub(crate) fn new(
        rust: &'static str,
        ts_name: fn(&ts_rs::Config) -> String,
        collect: fn(&mut TypeCollector),
    ) -> Self {
        TypeRef { rust, ts_name, collect }
    }

    /// The TypeScript type expression (`Message`, `Array<Message>`, `number | null`).
    pub fn ts_name(&self, cfg: &ts_rs::Config) -> String {
        (self.ts_name)(cfg)
    }

    /// Adds the declarations of every named type this type uses to `collector`.
    pub fn collect(&self, collector: &mut TypeCollector) {
        (self.collect)(collector)
    }
}

impl std::fmt::Debug for TypeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.rust)
    }
}

/// A TypeScript declaration of a named Rust type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeDecl {
    /// The TypeScript name (`Message`).
    pub ident: String,
    /// The declaration (`type Message = { user: string, text: string, };`).
    pub decl: String,
    /// Its JSDoc, if the Rust type had doc comments.
    pub docs: Option<String>,
}

/// Gathers the declarations of every named type reachable from some types, each once.
pub struct TypeCollector {
    cfg: ts_rs::Config,
    seen: HashSet<TypeId>,
    decls: Vec<TypeDecl>,
}

impl TypeCollector {
    /// A collector rendering with `cfg`.
    pub fn new(cfg: ts_rs::Config) -> Self {
        TypeCollector { cfg, seen: HashSet::new(), decls: Vec::new() }
    }

    /// The rendering configuration.
    pub fn config(&self) -> &ts_rs::Config {
        &self.cfg
    }

    /// The declarations gathered, in the order first reached.
    pub fn into_decls(self) -> Vec<TypeDecl> {
        self.decls
    }
}

impl TypeVisitor for TypeCollector {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        if !self.seen.insert(TypeId::of::<T>()) {
            return;
        }
        // Only types with a declaration of their own (derived `TS`) are declared;
        // built-in ones (`string`, `Array<T>`) are written inline.
        if <T as TS>::output_path().is_some() {
            self.decls.push(TypeDecl {
                ident: <T as TS>::ident(&self.cfg),
                decl: <T as TS>::decl(&self.cfg),
                docs: <T as TS>::docs(),
            });
        }
        <T as TS>::visit_dependencies(self);
        <T as TS>::visit_generics(self);
    }
}

pub(crate) fn collect_type<T: TS + 'static>(collector: &mut TypeCollector) {
    collector.visit::<T>();
}
