//! # pulse-client-gen
//!
//! Renders the TypeScript a browser needs to talk to Pulse channels: the payload types
//! (through ts-rs, so serde's renames and tags are honoured), an event map per
//! direction, and a typed React hook per channel, `useChatChannel(channelId)`, over the
//! hand-written client runtime in `ts/` (the npm package `@pulse-rs/client`).
//!
//! The user lists what goes in a module, and writes it from a small binary of their own
//! crate ([`Module::run_cli`]), from the server itself at start in debug builds (the
//! starter does: the dev loop then never needs a separate command), and checks it in a
//! test ([`Module::check`]):
//!
//! ```
//! use pulse_runtime::prelude::*;
//!
//! #[channel(name = "counter", events(
//!     /// Adds to the count.
//!     add(i64) => server,
//!     count(i64) => client,
//! ))]
//! pub struct Counter;
//!
//! let module = pulse_client_gen::Module::new().channel::<Counter>();
//! let typescript = module.render().unwrap();
//! assert!(typescript.contains("export function useCounterChannel(channelId: CounterChannelId): CounterChannel"));
//! assert!(typescript.contains("/** Adds to the count. */"));
//! # let path = std::env::temp_dir().join(format!("counter-{}.ts", std::process::id()));
//! module.write(&path).unwrap();  // true: written; false: it was current
//! module.check(&path).unwrap();  // Err when the file differs (a stale module)
//! # std::fs::remove_file(path).unwrap();
//! ```
//!
//! `gen-ts client/src/generated/chat.ts` writes the module; `gen-ts --check ...` exits
//! non-zero when the committed file is stale. Output is deterministic: declaration
//! order, each type once, a "do not edit" header.
//!
//! The client runtime's own protocol facts (error and close codes, frame types, the
//! limits in `hello`) are rendered from pulse-runtime's `protocol` module too:
//! [`protocol_module`] writes `ts/src/generated/protocol.ts`, and a test of this crate
//! fails when that file is stale.

mod cli;
mod protocol;
mod render;
mod routes;

use pulse_runtime::ChannelSpec;
use pulse_runtime::component::ClientComponent;
use pulse_runtime::routes::{RouteSchema, Routes};
use pulse_runtime::typed::schema::{ChannelSchema, TypeRef};

pub use cli::CheckError;
pub use protocol::{PROTOCOL_MODULE_PATH, protocol_module};
pub use render::RenderError;

/// The npm package the generated code imports the client runtime from.
pub const DEFAULT_RUNTIME_IMPORT: &str = "@pulse-rs/client";

/// What one generated TypeScript module holds.
#[derive(Debug, Clone)]
pub struct Module {
    channels: Vec<ChannelSchema>,
    components: Vec<ComponentSchema>,
    routes: Vec<RouteSchema>,
    runtime_import: String,
    bigint: bool,
}

impl Default for Module {
    fn default() -> Self {
        Module {
            channels: Vec::new(),
            components: Vec::new(),
            routes: Vec::new(),
            runtime_import: DEFAULT_RUNTIME_IMPORT.to_owned(),
            bigint: false,
        }
    }
}

impl Module {
    /// An empty module.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the channel declared by `C`.
    pub fn channel<C: ChannelSpec>(mut self) -> Self {
        self.channels.push(C::schema());
        self
    }

    /// Adds client component `C`: its props type (`ChatClientProps`) and its entry in
    /// the `ClientComponents` map that `<PulseRoot components={..}>` checks.
    pub fn client_component<C: ClientComponent>(mut self) -> Self {
        self.components.push(ComponentSchema { name: C::NAME, props: TypeRef::of::<C>(C::NAME) });
        self
    }

    /// Adds the app's pages (`#[derive(Routes)]` on `R`): the `routes` object, one
    /// function a page that makes its address from its typed parameters.
    pub fn routes<R: Routes>(mut self) -> Self {
        self.routes = R::schema();
        self
    }

    /// Imports the client runtime from `path` instead of `@pulse-rs/client`.
    pub fn runtime_import(mut self, path: impl Into<String>) -> Self {
        self.runtime_import = path.into();
        self
    }

    /// Writes 64- and 128-bit integers as `bigint`. Off by default: `JSON.parse` gives
    /// a `number`, so `bigint` would be a type that lies unless the client parses
    /// numbers itself.
    pub fn bigint(mut self) -> Self {
        self.bigint = true;
        self
    }

    /// The module's TypeScript source.
    pub fn render(&self) -> Result<String, RenderError> {
        render::render(self)
    }

    /// Writes the module to `path` (creating folders); returns whether it changed.
    pub fn write(&self, path: impl AsRef<std::path::Path>) -> Result<bool, CheckError> {
        cli::write(self, path.as_ref())
    }

    /// Fails if the file at `path` differs from what [`Module::render`] gives.
    pub fn check(&self, path: impl AsRef<std::path::Path>) -> Result<(), CheckError> {
        cli::check(self, path.as_ref())
    }

    /// The command line: `[--check] <path>`. Writes (or checks) the module and returns
    /// the process exit code.
    pub fn run_cli(&self) -> std::process::ExitCode {
        cli::run(self, std::env::args().skip(1))
    }

    fn ts_config(&self) -> ts_rs::Config {
        let cfg = ts_rs::Config::new();
        if self.bigint { cfg.with_large_int("bigint") } else { cfg.with_large_int("number") }
    }
}

/// A client component in a module.
#[derive(Debug, Clone)]
struct ComponentSchema {
    name: &'static str,
    props: TypeRef,
}
