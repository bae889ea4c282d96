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

/// State of [`LabCounter`].
#[state]
pub struct CounterState {
    n: i64,
    text: String,
    items: Vec<&'static str>,
    agreed: bool,
    submitted: String,
}

/// A component with one DOM callback of every kind, for the TypeScript renderer tests.
#[component]
pub fn LabCounter(cx: &mut Scope) -> Node {
    let state = cx.init(|_| CounterState {
        n: 0,
        text: String::new(),
        items: vec!["a", "b", "c"],
        agreed: false,
        submitted: String::new(),
    });
    let s = state.read();
    section((
        p(format!("count: {}", s.n)).id("count"),
        button("+").id("plus").on_click(state.on(|s, _| s.n += 1)),
        input()
            .id("text")
            .value(s.text.clone())
            .on_change(state.on(|s, ev| s.text = ev.value.clone().unwrap_or_default())),
        p(format!("text: {}", s.text)).id("echo"),
        input()
            .id("agree")
            .kind("checkbox")
            .checked(s.agreed)
            .on_change(state.on(|s, ev| s.agreed = ev.checked == Some(true))),
        p(format!("agreed: {}", s.agreed)).id("agreed"),
        button("rotate").id("rotate").on_click(state.on(|s, _| s.items.rotate_left(1))),
        ul(s.items.iter().map(|item| li(*item).key(item))).id("items"),
        form((input().name("who").id("who"), button("send").kind("submit"))).id("form").on_submit(state.on(|s, ev| {
            let who = ev.form.as_ref().and_then(|f| f.get("who")).and_then(|v| v.as_str()).unwrap_or("");
            s.submitted = format!("submitted: {who}");
        })),
        p(s.submitted.clone()).id("submitted"),
    ))
}
