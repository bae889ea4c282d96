//! A client's WebSocket bytes, cut into the pieces successive socket reads return (the
//! input's second byte seeds the cuts; its first picks the message limit and whether
//! the first piece came behind the request head), through the read path a connection
//! has: `LazyRead`, the frame scan, tungstenite. The messages and how the reading ends
//! must not depend on the cuts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pulse_runtime::fuzz::websocket_read(data));
