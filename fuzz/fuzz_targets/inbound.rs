//! Inbound frames, any bytes: split on NUL into a sequence of WebSocket messages (text
//! when UTF-8, binary otherwise) and fed to a fresh session. Nothing may panic, and the
//! session must survive every one of them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulse_runtime::fuzz::FuzzSession;

fuzz_target!(|data: &[u8]| {
    let mut session = FuzzSession::new();
    for message in data.split(|b| *b == 0) {
        session.feed(message);
    }
    assert!(session.is_alive(), "a client's frames ended its session");
});
