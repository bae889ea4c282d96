//! The fuzz targets' paths, as a short deterministic smoke run: every seed of each
//! corpus and every regression input, then a few thousand random mutations of them.
//! `inbound` goes through a real session's decoder and dispatcher (none may panic or end
//! the session); `request_head`, `websocket_read` and `close_drain` through the
//! listener's head reading, the WebSocket read path and the close drain, each checking
//! its own invariants. (The long libFuzzer runs are `cargo fuzz run <target>`, see
//! docs/reliability.md.)

use std::path::Path;

use pulse_runtime::fuzz::FuzzSession;

fn inputs(folder: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz").join(folder);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file() && path.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    files.iter().map(|path| std::fs::read(path).unwrap()).collect()
}

fn run(input: &[u8]) {
    let mut session = FuzzSession::new();
    for message in input.split(|b| *b == 0) {
        session.feed(message);
    }
    assert!(session.is_alive(), "session ended by input {:?}", String::from_utf8_lossy(input));
}

#[test]
fn every_seed_and_regression_input_leaves_the_session_alive() {
    let corpus = inputs("corpus/inbound");
    assert!(corpus.len() >= 15, "the seed corpus is missing");
    for input in corpus.iter().chain(&inputs("regressions")) {
        run(input);
    }
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"$CH",
    b"\"t\":\"request\"",
    b"\"id\":",
    b"\xff",
    b"\0",
    b"\\u0000",
    b"\"payload\":",
];

#[test]
fn random_mutations_of_the_seeds_never_panic() {
    let seeds: Vec<Vec<u8>> = inputs("corpus/inbound").into_iter().chain(inputs("regressions")).collect();
    mutations(&seeds, 3000, 0x5eed_1234_abcd_ef01, run);
}

/// Feeds `count` random mutations of `seeds` to `run`.
fn mutations(seeds: &[Vec<u8>], count: usize, seed: u64, mut run: impl FnMut(&[u8])) {
    let mut rng = Rng(seed);
    for _ in 0..count {
        let mut input = seeds[rng.below(seeds.len())].clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(input.len() + 1);
            match rng.below(5) {
                0 if !input.is_empty() => {
                    let i = rng.below(input.len());
                    input[i] ^= 1 << rng.below(8);
                }
                1 => {
                    let piece = INTERESTING[rng.below(INTERESTING.len())];
                    input.splice(at..at, piece.iter().copied());
                }
                2 if !input.is_empty() => {
                    let end = (at + rng.below(16)).min(input.len());
                    input.drain(at.min(end)..end);
                }
                3 => {
                    let other = &seeds[rng.below(seeds.len())];
                    input.push(0);
                    input.extend_from_slice(other);
                }
                _ => input.truncate(at),
            }
        }
        run(&input);
    }
}

/// Every seed of an edge target's corpus, each with every cut seed in turn and a few
/// control bytes, then mutations.
fn edge_target(target: &str, run: fn(&[u8])) {
    let seeds = inputs(&format!("corpus/{target}"));
    assert!(seeds.len() >= 15, "the seed corpus of {target} is missing");
    for seed in &seeds {
        for cut in 0..=32u8 {
            for control in [seed.first().copied().unwrap_or(0), 0x01, 0x47, 0x8e] {
                let mut input = seed.clone();
                input.resize(input.len().max(2), 0);
                input[0] = control;
                input[1] = cut;
                run(&input);
            }
        }
    }
    mutations(&seeds, 3000, 0xc0ff_ee00_1234_5678, run);
}

#[test]
fn request_heads_read_the_same_however_they_are_cut() {
    edge_target("request_head", pulse_runtime::fuzz::request_head);
    // A head past the limit, in pieces: hyper's to refuse, never more than the limit held.
    let mut long = b"\x00\x05GET /ws?v=1 HTTP/1.1\r\nX-Long: ".to_vec();
    long.resize(70 * 1024, b'a');
    pulse_runtime::fuzz::request_head(&long);
}

#[test]
fn the_websocket_read_path_reads_the_same_however_the_bytes_are_cut() {
    edge_target("websocket_read", pulse_runtime::fuzz::websocket_read);
}

#[test]
fn the_close_drain_stops_exactly_at_the_clients_close_frame() {
    edge_target("close_drain", pulse_runtime::fuzz::close_drain);
}
