//! The fuzz target's path, as a short deterministic smoke run: every seed of the corpus
//! and every regression input, then a few thousand random mutations of them, through a
//! real session's decoder and dispatcher. None may panic or end the session. (The long
//! libFuzzer run is `cargo fuzz run inbound`, see docs/reliability.md.)

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
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for _ in 0..3000 {
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
