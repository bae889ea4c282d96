//! A connection's first bytes, cut into the pieces successive socket reads return (the
//! input's second byte seeds the cuts), through the listener's reading of a request
//! head, then the router's answer to an upgrade. The head must read the same however
//! it is cut, within its byte limit, and a `101` must come with its session.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pulse_runtime::fuzz::request_head(data));
