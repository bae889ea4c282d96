//! `#[channel]` under a renamed dependency: the generated code must name the runtime
//! as `::pulse`, which `proc-macro-crate` finds in this crate's manifest.

use pulse::prelude::*;

/// A payload.
#[derive(Serialize, Deserialize, TS)]
pub struct Ping {
    /// A number.
    pub n: u32,
}

/// A channel declared through the renamed crate.
#[pulse::channel(events(ping(Ping) => server, pong(Ping) => client))]
pub struct Echo;

/// Echoes every ping as a pong.
pub struct Echoer;

impl EchoHandler for Echoer {
    fn ping(&mut self, cx: &mut ChannelCx<Echo>, ping: Ping) {
        cx.pong(ping);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declaration_compiles_and_describes_itself() {
        assert_eq!(<Echo as ChannelSpec>::NAME, "echo");
        assert_eq!(Echo::schema().events.len(), 2);
    }
}
