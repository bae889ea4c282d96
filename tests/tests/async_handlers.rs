//! Async and fallible handlers over a real socket: a channel's events run in arrival
//! order (an emit behind an awaiting request waits for it), other channels and sessions
//! are never held up, a closed channel or an ended session drops the awaiting future at
//! once (no task left behind), typed errors travel as `failed`, and the lifecycle hooks
//! hear why their channel closed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pulse_runtime::client::{Client, ServerFrame};
use pulse_runtime::prelude::*;
use pulse_runtime::protocol::ErrorCode;
use pulse_runtime::{ChannelError, CloseReason};
use pulse_tests::{Harness, eventually, expect_open, next_frame};
use serde_json::{Value, json};

/// Why a `divide` failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum DivideError {
    ByZero,
}

#[channel(name = "job", events(
    /// Answers `ms` after `ms` milliseconds.
    async run(u64) -> u64 => server,
    /// Records `n` after `ms` milliseconds: `(n, ms)`.
    async note((u32, u64)) => server,
    /// Records `n` at once.
    mark(u32) => server,
    /// Records the length of a text at once.
    text(String) => server,
    /// A fallible sync request.
    divide((i64, i64)) -> Result<i64, DivideError> => server,
    /// A fallible async request that panics when asked to.
    async explode(bool) -> Result<(), DivideError> => server,
    hello(String) => client,
))]
struct Job;

/// A guard each `run` future holds: counts the futures alive right now.
struct Alive(Arc<AtomicUsize>);

impl Alive {
    fn new(count: &Arc<AtomicUsize>) -> Alive {
        count.fetch_add(1, Ordering::SeqCst);
        Alive(count.clone())
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a `Job` handler saw, in order, why it closed, and its futures alive.
#[derive(Clone, Default)]
struct Log {
    entries: Arc<Mutex<Vec<String>>>,
    alive: Arc<AtomicUsize>,
}

impl Log {
    fn push(&self, entry: impl Into<String>) {
        self.entries.lock().unwrap().push(entry.into());
    }
    fn entries(&self) -> Vec<String> {
        self.entries.lock().unwrap().clone()
    }
    fn alive(&self) -> usize {
        self.alive.load(Ordering::SeqCst)
    }
}

struct Worker {
    log: Log,
}

impl JobHandler for Worker {
    fn run(&mut self, _cx: &mut ChannelCx<Job>, ms: u64) -> impl Future<Output = u64> + use<> {
        let alive = Alive::new(&self.log.alive);
        async move {
            let _alive = alive;
            tokio::time::sleep(Duration::from_millis(ms)).await;
            ms
        }
    }

    fn note(&mut self, _cx: &mut ChannelCx<Job>, (n, ms): (u32, u64)) -> impl Future<Output = ()> + use<> {
        let log = self.log.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            log.push(format!("note {n}"));
        }
    }

    fn mark(&mut self, _cx: &mut ChannelCx<Job>, n: u32) {
        self.log.push(format!("mark {n}"));
    }

    fn text(&mut self, _cx: &mut ChannelCx<Job>, text: String) {
        self.log.push(format!("text {}", text.len()));
    }

    fn divide(&mut self, _cx: &mut ChannelCx<Job>, (a, b): (i64, i64)) -> Result<i64, DivideError> {
        if b == 0 { Err(DivideError::ByZero) } else { Ok(a / b) }
    }

    fn explode(
        &mut self,
        _cx: &mut ChannelCx<Job>,
        explode: bool,
    ) -> impl Future<Output = Result<(), DivideError>> + use<> {
        async move {
            tokio::task::yield_now().await;
            assert!(!explode, "exploding on purpose");
            Err(DivideError::ByZero)
        }
    }

    fn on_open(&mut self, cx: &mut ChannelCx<Job>) {
        self.log.push("open");
        cx.hello("first".into());
    }

    fn on_close(&mut self, reason: CloseReason) {
        self.log.push(format!("close {reason:?}"));
    }
}

/// A session with two `job` channels; returns the client, the session, both channel
/// ids and both logs.
async fn two_jobs(harness: &mut Harness) -> (Client, Session, [ChannelId; 2], [Log; 2]) {
    let (mut client, session) = harness.connect().await;
    let logs = [Log::default(), Log::default()];
    let mut ids = Vec::new();
    for log in &logs {
        let job = Job::open(&session, Worker { log: log.clone() }).unwrap();
        let id = expect_open(&mut client, "job").await;
        assert_eq!(job.id().untyped(), id);
        ids.push(id);
        // `on_open` ran before `open` went out: its emit is the next frame.
        match next_frame(&mut client).await {
            ServerFrame::Emit { channel, event, payload, .. } => {
                assert_eq!((channel, event.as_str(), payload), (id, "hello", json!("first")));
            }
            other => panic!("expected on_open's hello, got {other:?}"),
        }
    }
    (client, session, [ids[0], ids[1]], logs)
}

fn answer_of(frame: ServerFrame) -> (u64, Result<Value, pulse_runtime::protocol::WireError>) {
    match frame {
        ServerFrame::Answer { id, result, .. } => (id, result),
        other => panic!("expected an answer, got {other:?}"),
    }
}

#[tokio::test]
async fn a_channels_events_run_in_arrival_order_even_behind_an_await() {
    let mut harness = Harness::start().await;
    let (client, _session, [job, _], [log, _]) = two_jobs(&mut harness).await;
    // An async emit that takes 50 ms, then a sync emit, then an async emit that takes 0:
    // each waits for the one before it.
    client.emit(job, "note", &(1, 50)).unwrap();
    client.emit(job, "mark", &2).unwrap();
    client.emit(job, "note", &(3, 0)).unwrap();
    // A request after them is answered after all three ran.
    assert_eq!(client.request(job, "run", &0).await, Ok(json!(0)));
    assert_eq!(log.entries(), ["open", "note 1", "mark 2", "note 3"]);
}

#[tokio::test]
async fn an_awaiting_request_holds_up_neither_other_channels_nor_other_sessions() {
    let mut harness = Harness::start().await;
    let (client, _session, [slow, other], [slow_log, other_log]) = two_jobs(&mut harness).await;
    let (neighbour, _neighbour_session, [neighbour_job, _], _) = two_jobs(&mut harness).await;
    let waiting = tokio::spawn(client.request(slow, "run", &60_000).into_future());
    eventually("the slow request is awaiting", || slow_log.alive() == 1).await;
    // The same session's other channel and another session answer meanwhile.
    assert_eq!(client.request(other, "divide", &(9, 3)).await, Ok(json!(3)));
    client.emit(other, "mark", &7).unwrap();
    assert_eq!(client.request(other, "run", &1).await, Ok(json!(1)));
    assert_eq!(other_log.entries(), ["open", "mark 7"]);
    assert_eq!(neighbour.request(neighbour_job, "run", &1).await, Ok(json!(1)));
    assert!(!waiting.is_finished());
    waiting.abort();
}

#[tokio::test]
async fn closing_a_channel_drops_its_awaiting_future_and_fails_the_request_at_once() {
    let mut harness = Harness::start().await;
    let (mut client, session, [job, other], [log, _]) = two_jobs(&mut harness).await;
    let tasks_before = tokio::runtime::Handle::current().metrics().num_alive_tasks();
    let request = client.request(job, "run", &60_000);
    let request_id = request.id();
    let waiting = tokio::spawn(request.into_future());
    eventually("the handler's future is awaiting", || log.alive() == 1).await;
    // Queued behind it: an emit that must never run.
    client.emit(job, "mark", &99).unwrap();

    client.close_channel(job).unwrap();
    match next_frame(&mut client).await {
        ServerFrame::Close { channel, reason, .. } => assert_eq!((channel, reason.as_str()), (job, "client")),
        other => panic!("expected the close, got {other:?}"),
    }
    assert_eq!(waiting.await.unwrap(), Err(ChannelError::Closed));
    eventually("the future was dropped", || log.alive() == 0).await;
    eventually("no task was left behind", || {
        tokio::runtime::Handle::current().metrics().num_alive_tasks() <= tasks_before
    })
    .await;
    assert_eq!(log.entries(), ["open", "close Client"]);
    // No answer follows the close: the next frame is the other channel's answer.
    let next = client.request(other, "divide", &(4, 2));
    let next_id = next.id();
    assert_eq!(next.await, Ok(json!(2)));
    assert_ne!(next_id, request_id);
    assert!(client.try_next_frame().is_none(), "nothing else arrived");
    assert_eq!(session.channel_count(), 1);
}

#[tokio::test]
async fn a_session_that_ends_drops_its_awaiting_futures() {
    let mut harness = Harness::start().await;
    let (client, session, [job, _], [log, other_log]) = two_jobs(&mut harness).await;
    let waiting = tokio::spawn(client.request(job, "run", &60_000).into_future());
    eventually("the handler's future is awaiting", || log.alive() == 1).await;
    client.close().await;
    session.closed().await;
    eventually("the future was dropped", || log.alive() == 0).await;
    assert!(matches!(waiting.await.unwrap(), Err(ChannelError::Disconnected | ChannelError::Closed)));
    assert_eq!(log.entries(), ["open", "close SessionEnded"]);
    assert_eq!(other_log.entries(), ["open", "close SessionEnded"]);
}

#[tokio::test]
async fn server_code_closing_a_channel_is_heard_as_server() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    let log = Log::default();
    let job = Job::open(&session, Worker { log: log.clone() }).unwrap();
    expect_open(&mut client, "job").await;
    job.close();
    assert_eq!(log.entries(), ["open", "close Server"]);
}

#[tokio::test]
async fn typed_errors_travel_as_failed_and_a_panic_stays_handler_failed() {
    let mut harness = Harness::start().await;
    let (mut client, _session, [job, _], _) = two_jobs(&mut harness).await;
    assert_eq!(client.request(job, "divide", &(7, 2)).await, Ok(json!(3)));
    match client.request(job, "divide", &(7, 0)).await {
        Err(ChannelError::Rejected(error)) => {
            assert_eq!((error.code, error.data), (ErrorCode::Failed, Some(json!({ "kind": "by_zero" }))));
        }
        other => panic!("expected the typed error, got {other:?}"),
    }
    match client.request(job, "explode", &false).await {
        Err(ChannelError::Rejected(error)) => assert_eq!(error.data, Some(json!({ "kind": "by_zero" }))),
        other => panic!("expected the typed error, got {other:?}"),
    }
    match client.request(job, "explode", &true).await {
        Err(ChannelError::Remote(message)) => assert!(message.contains("panicked"), "{message}"),
        other => panic!("expected handler_failed, got {other:?}"),
    }
    // The channel lives on after the panic.
    assert_eq!(client.request(job, "run", &0).await, Ok(json!(0)));
    // The raw frame, as protocol.md shows it.
    let id = client.request(job, "divide", &(1, 0)).id();
    client
        .send_raw_text(
            json!({ "t": "request", "channel": job, "id": id + 100, "event": "divide", "payload": [1, 0] }).to_string(),
        )
        .unwrap();
    let (answered, result) = answer_of(next_frame(&mut client).await);
    assert_eq!(answered, id + 100);
    let error = result.unwrap_err();
    assert_eq!((error.code, error.data), (ErrorCode::Failed, Some(json!({ "kind": "by_zero" }))));
}

#[tokio::test]
async fn frames_waiting_behind_a_busy_handler_are_bounded_and_dropped_at_close() {
    let config = pulse_runtime::Config { max_pending_requests: 4, ..Default::default() };
    let mut harness = Harness::with_config(config).await;
    let (mut client, _session, [job, other], [log, _]) = two_jobs(&mut harness).await;
    let waiting = tokio::spawn(client.request(job, "run", &60_000).into_future());
    eventually("the handler's future is awaiting", || log.alive() == 1).await;
    // Four frames may wait behind it; the fifth is refused, and says why.
    for n in 0..5 {
        client.emit(job, "mark", &n).unwrap();
    }
    match next_frame(&mut client).await {
        ServerFrame::Error { error, channel, event, .. } => {
            assert_eq!(error.code, ErrorCode::TooManyRequests, "{}", error.message);
            assert_eq!((channel.as_deref(), event.as_deref()), (Some(job.to_string().as_str()), Some("mark")));
        }
        other => panic!("expected too_many_requests, got {other:?}"),
    }
    // Closing drops the four: none of them ever runs.
    client.close_channel(job).unwrap();
    assert_eq!(waiting.await.unwrap(), Err(ChannelError::Closed));
    assert_eq!(client.request(other, "run", &0).await, Ok(json!(0)));
    assert_eq!(log.entries(), ["open", "close Client"]);
}

/// A burst of large messages behind slow handlers: what waits in a session's channels
/// is bounded in bytes (`inbound_queue_bytes`, 256 KiB by default) across all of them.
/// The excess is refused with `too_many_requests`, the session carries on, and a closed
/// channel's waiting bytes are given back.
#[tokio::test]
async fn bytes_waiting_behind_busy_handlers_are_bounded_per_session() {
    let mut harness = Harness::start().await;
    let (mut client, session, [job, other], [log, other_log]) = two_jobs(&mut harness).await;
    let third_log = Log::default();
    Job::open(&session, Worker { log: third_log.clone() }).unwrap();
    let third = expect_open(&mut client, "job").await;
    next_frame(&mut client).await; // its `hello`
    let waiting = [
        tokio::spawn(client.request(job, "run", &60_000).into_future()),
        tokio::spawn(client.request(other, "run", &60_000).into_future()),
    ];
    eventually("both handlers are awaiting", || log.alive() == 1 && other_log.alive() == 1).await;

    // Six texts of 60,000 bytes, alternating channels, at once (within the rate burst):
    // four fit in 256 KiB, the fifth and sixth are refused.
    let text = "x".repeat(60_000);
    for n in 0..6 {
        client.emit(if n % 2 == 0 { job } else { other }, "text", &text).unwrap();
    }
    for expected in [job, other] {
        match next_frame(&mut client).await {
            ServerFrame::Error { error, channel, event, .. } => {
                assert_eq!(error.code, ErrorCode::TooManyRequests, "{}", error.message);
                assert!(error.message.contains("262144 bytes"), "{}", error.message);
                assert_eq!((channel, event.as_deref()), (Some(expected.to_string()), Some("text")));
            }
            other => panic!("expected too_many_requests, got {other:?}"),
        }
    }
    // The session carries on: a third channel answers at once.
    assert_eq!(client.request(third, "divide", &(8, 2)).await, Ok(json!(4)));

    // Closing `job` drops its two waiting texts and gives their bytes back: two more fit
    // behind `other` (no error comes before the next answer).
    client.close_channel(job).unwrap();
    assert!(matches!(next_frame(&mut client).await, ServerFrame::Close { .. }));
    for _ in 0..2 {
        client.emit(other, "text", &text).unwrap();
    }
    assert_eq!(client.request(third, "divide", &(9, 3)).await, Ok(json!(3)));
    assert!(client.try_next_frame().is_none(), "nothing refused");
    assert_eq!(log.entries(), ["open", "close Client"], "the waiting texts never ran");
    for task in waiting {
        task.abort();
    }
}
