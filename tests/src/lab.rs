//! The `lab` channel: one event of every kind and payloads of every shape. The
//! TypeScript fixture is generated from it, and `ts-test-server` serves it for the
//! client runtime's tests.

use std::time::Duration;

use pulse_runtime::prelude::*;

/// A note, with serde's `rename_all`, an `Option`, a `Vec` and a nested struct.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    /// Who wrote it.
    pub author_name: String,
    /// What it says.
    pub body: String,
    /// The note it answers, if any.
    pub reply_to: Option<u32>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Bookkeeping.
    pub meta: Meta,
}

/// Bookkeeping of a note.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Meta {
    /// Milliseconds since the epoch: `u64`, written `number` in TypeScript.
    pub sent_at_ms: u64,
    /// Pinned to the top.
    pub pinned: bool,
}

/// A shape, as an internally tagged enum.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shape {
    /// A circle.
    Circle {
        /// Its radius.
        radius: f64,
    },
    /// A square.
    Square {
        /// Its side.
        side: f64,
    },
}

/// A channel with one event of every kind, for the TypeScript tests.
#[channel(name = "lab", events(
    /// Post a note; everyone on the channel gets it as `posted`.
    post(Note)                        => server,
    /// Ask the server to ask back: it requests `ask_name`, then emits `greeting`.
    ping()                            => server,
    posted(Note)                      => client,
    greeting(String)                  => client,
    tick(u64)                         => client,
    area(Shape) -> f64                => server,
    fail(String) -> ()                => server,
    ask_name(String) -> String        => client,
    ask_nothing() -> Option<String>   => client,
))]
pub struct Lab;

/// The server side of `lab`.
#[derive(Default)]
pub struct LabServer {
    ticks: u64,
}

impl LabServer {
    fn area_of(shape: &Shape) -> f64 {
        match shape {
            Shape::Circle { radius } => std::f64::consts::PI * radius * radius,
            Shape::Square { side } => side * side,
        }
    }
}

impl LabHandler for LabServer {
    fn post(&mut self, cx: &mut ChannelCx<Lab>, note: Note) {
        cx.broadcast().posted(note);
        self.ticks += 1;
        cx.tick(self.ticks);
    }

    fn ping(&mut self, cx: &mut ChannelCx<Lab>) {
        let channel = cx.channel().clone();
        tokio::spawn(async move {
            let greeting = match channel.ask_name("who are you?".into()).timeout(Duration::from_secs(2)).await {
                Ok(name) => format!("hello, {name}"),
                Err(error) => format!("no name: {error}"),
            };
            channel.greeting(greeting);
        });
    }

    fn area(&mut self, _cx: &mut ChannelCx<Lab>, shape: Shape) -> f64 {
        Self::area_of(&shape)
    }

    fn fail(&mut self, _cx: &mut ChannelCx<Lab>, reason: String) {
        panic!("failing on purpose: {reason}");
    }
}
