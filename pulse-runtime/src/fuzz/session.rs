//! A session without a socket, for fuzzing the inbound path. Frames go through the same
//! decoding and dispatch as a connection's; whatever the session would send back is
//! drained and dropped.

use std::sync::Arc;

use crate::Handlers;
use crate::server::ServerShared;
use crate::session::SessionShared;

/// A server with one session holding a `calc` channel (emits `note`, requests `echo`,
/// `add`, `fail`, and `slow`, answered later). No handler panics on purpose: under
/// libFuzzer any panic aborts, even one the runtime catches (panic isolation has its
/// own integration tests).
pub struct FuzzSession {
    runtime: tokio::runtime::Runtime,
    server: Arc<ServerShared>,
    session: Arc<SessionShared>,
    channel: String,
}

impl FuzzSession {
    /// A fresh server, session and channel.
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        let server = crate::Server::builder().build().shared().clone();
        let session = server.registry.new_session_for_fuzzing();
        let handlers = Handlers::new()
            .on("note", |_cx, _value: serde_json::Value| {})
            .on_request("echo", |_cx, value: serde_json::Value| Ok(value))
            .on_request("add", |_cx, (a, b): (i64, i64)| Ok(a.wrapping_add(b)))
            .on_request("fail", |_cx, (): ()| Err::<(), _>("failed".to_owned()))
            .on_request_async("slow", |_cx, ms: u8| async move {
                tokio::time::sleep(std::time::Duration::from_millis(u64::from(ms))).await;
                Ok(ms)
            });
        let channel = {
            let _guard = runtime.enter();
            session.open_channel("calc".into(), Box::new(handlers), true).expect("open calc").id().to_string()
        };
        FuzzSession { runtime, server, session, channel }
    }

    /// The `calc` channel's id; fuzz inputs say `$CH` where they mean it.
    pub fn channel_id(&self) -> &str {
        &self.channel
    }

    /// Feeds one inbound message: text when it is UTF-8 (with `$CH` replaced by the
    /// channel id), binary otherwise.
    pub fn feed(&mut self, message: &[u8]) {
        let _guard = self.runtime.enter();
        match std::str::from_utf8(message) {
            Ok(text) => {
                let text = text.replace("$CH", &self.channel);
                self.session.text_frame(&text);
            }
            Err(_) => self.session.binary_frame(),
        }
        // Let spawned answers run, then drop whatever would have been sent.
        self.runtime.block_on(tokio::task::yield_now());
        let mut sent = Vec::new();
        loop {
            self.session.take_batch(64, &mut sent);
            if sent.is_empty() {
                break;
            }
            sent.clear();
        }
    }

    /// Whether the session survived everything fed so far (it must: nothing a client
    /// sends may end it except the documented limits, which this harness does not reach).
    pub fn is_alive(&self) -> bool {
        !self.session.is_ending() && self.server.registry.topics_len() <= 1
    }
}

impl Drop for FuzzSession {
    /// The session ends as a disconnect ends it, which must release everything it
    /// holds (LeakSanitizer checks this under `cargo fuzz`).
    fn drop(&mut self) {
        let _guard = self.runtime.enter();
        self.session.end();
        self.server.registry.remove_session(&self.session);
    }
}

impl Default for FuzzSession {
    fn default() -> Self {
        Self::new()
    }
}
