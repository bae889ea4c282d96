//! The generated TypeScript: snapshotted, deterministic, and the committed fixture that
//! tsc and the client runtime's tests use is current.

use pulse_client_gen::{Module, RenderError};
use pulse_tests::lab::{Desk, Lab, Lobby, Table};

/// Where the client runtime's tests import the fixture from.
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../pulse-client-gen/ts/test/generated/lab.ts");
/// The poll's module, which `ts/test/poll-names.ts` type-checks.
const POLL_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../pulse-client-gen/ts/test/generated/poll.ts");

fn lab_module() -> Module {
    Module::new()
        .channel::<Lab>()
        .channel::<Desk>()
        .channel::<Lobby>()
        .channel::<Table>()
        .routes::<pulse_tests::pages::Page>()
        .runtime_import("../../src/index")
}

#[test]
fn the_lab_module_renders_as_snapshotted() {
    insta::assert_snapshot!(lab_module().render().unwrap());
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(lab_module().render().unwrap(), lab_module().render().unwrap());
}

/// `PULSE_BLESS=1 cargo test` rewrites the fixture after a deliberate change.
#[test]
fn the_committed_fixture_is_current() {
    current(lab_module(), FIXTURE);
    current(pulse_tests::poll::typescript(), POLL_FIXTURE);
    // The browser test's todo app (tests/browser/todo), which Vite serves as it is.
    current(pulse_tests::todo::typescript(), pulse_tests::todo::TYPESCRIPT);
}

/// Fails unless `path` holds `module` (rewrites it first under `PULSE_BLESS`).
fn current(module: Module, path: &str) {
    if std::env::var_os("PULSE_BLESS").is_some() {
        module.write(path).unwrap();
    }
    if let Err(error) = module.check(path) {
        panic!("{error}\n(run `PULSE_BLESS=1 cargo test -p pulse-tests --test typescript` to regenerate)");
    }
}

/// A channel named `poll`, declared on `PollChannel` beside a component `Poll`: the
/// TypeScript names come from the declared name and never double "Channel"; the event
/// docs are JSDoc on the schema's entries and the typed channel's methods.
#[test]
fn a_channels_typescript_names_come_from_its_declared_name() {
    let poll = pulse_tests::poll::typescript().render().unwrap();
    insta::assert_snapshot!(poll);
    for name in [
        "export type PollSchema =",
        "export type PollChannel =",
        "export type PollChannelId =",
        "export function usePollChannel(channelId: PollChannelId): PollChannel",
        "  Poll: ComponentType<PollProps>;",
    ] {
        assert!(poll.contains(name), "missing `{name}` in:\n{poll}");
    }
    assert!(!poll.contains("ChannelChannel"), "{poll}");
    assert!(poll.contains("/** The tally after each vote, to everyone. */"), "{poll}");
}

/// A channel whose declared name differs from `poll` only by a trailing `_channel`.
#[pulse_runtime::channel(name = "poll_channel", events(ping() => server))]
pub struct OtherPoll;

#[test]
fn two_channels_with_the_same_typescript_names_are_refused() {
    let err = Module::new().channel::<pulse_tests::poll::PollChannel>().channel::<OtherPoll>().render().unwrap_err();
    assert_eq!(err, RenderError::SameTypeScriptNames("poll".into(), "poll_channel".into(), "Poll".into()));
    assert_eq!(
        err.to_string(),
        "channels `poll` and `poll_channel` would both be `PollChannel` in TypeScript (the names come from the \
         declared name, less a trailing `Channel`); rename one"
    );
}

#[test]
fn large_integers_are_numbers_unless_asked() {
    let numbers = lab_module().render().unwrap();
    assert!(numbers.contains("sent_at_ms: number"), "{numbers}");
    assert!(numbers.contains("tick: number;"), "{numbers}");
    let bigints = lab_module().bigint().render().unwrap();
    assert!(bigints.contains("sent_at_ms: bigint"), "{bigints}");
}

#[test]
fn a_channel_added_twice_is_refused() {
    let err = Module::new().channel::<Lab>().channel::<Lab>().render().unwrap_err();
    assert_eq!(err, RenderError::DuplicateChannel("lab".into()));
}

#[test]
fn check_reports_a_stale_file_and_write_fixes_it() {
    let dir = std::env::temp_dir().join(format!("pulse-ts-{}", std::process::id()));
    let path = dir.join("lab.ts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&path, "// old\n").unwrap();
    let stale = lab_module().check(&path).unwrap_err();
    assert!(stale.to_string().contains("is stale"), "{stale}");
    assert!(lab_module().write(&path).unwrap());
    lab_module().check(&path).unwrap();
    assert!(!lab_module().write(&path).unwrap(), "an unchanged module is not rewritten");
    std::fs::remove_dir_all(&dir).unwrap();
}
