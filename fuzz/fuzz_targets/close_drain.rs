//! The close handshake: the server closes after a few of the client's messages (or when
//! its frames break the parser), then reads and drops what the client still sends. The
//! drain must stop exactly when the client's close frame has passed whole, or at the end
//! of what it sent, however the bytes are cut.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pulse_runtime::fuzz::close_drain(data));
