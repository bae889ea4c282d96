//! Every kind of bad frame gets a clear error, and the session and its neighbours carry on.

use std::time::Duration;

use pulse_runtime::client::{Client, ServerFrame};
use pulse_runtime::protocol::ErrorCode;
use pulse_runtime::{ChannelId, Config};
use pulse_tests::{Harness, expect_disconnect, expect_open, next_frame, test_handlers};
use serde_json::json;

/// A session with a working `calc` channel, and a neighbour session with one too.
async fn setup(config: Config) -> (Harness, Client, ChannelId, Client, ChannelId) {
    let mut harness = Harness::with_config(config).await;
    let (mut client, session) = harness.connect().await;
    session.open_channel("calc", test_handlers().0).unwrap();
    let channel = expect_open(&mut client, "calc").await;
    let (mut neighbour, neighbour_session) = harness.connect().await;
    neighbour_session.open_channel("calc", test_handlers().0).unwrap();
    let neighbour_channel = expect_open(&mut neighbour, "calc").await;
    (harness, client, channel, neighbour, neighbour_channel)
}

async fn still_works(client: &Client, channel: ChannelId) {
    assert_eq!(client.request(channel, "add", &(20, 22)).await, Ok(json!(42)));
}

async fn expect_error(client: &mut Client, code: ErrorCode) -> String {
    match next_frame(client).await {
        ServerFrame::Error { error, .. } => {
            assert_eq!(error.code, code, "{}", error.message);
            error.message
        }
        other => panic!("expected {code} error, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_frames_get_an_error_frame_and_the_session_lives_on() {
    let (_harness, mut client, channel, neighbour, neighbour_channel) = setup(Config::default()).await;
    let cases: &[(&str, ErrorCode, &str)] = &[
        ("{\"t\":", ErrorCode::MalformedFrame, "not a valid frame"),
        ("not json at all", ErrorCode::MalformedFrame, "not a valid frame"),
        ("[1,2,3]", ErrorCode::MalformedFrame, "not a valid frame"),
        ("{\"channel\":\"x\"}", ErrorCode::MalformedFrame, "missing field `t`"),
        ("{\"t\":42}", ErrorCode::MalformedFrame, "not a valid frame"),
        ("{\"t\":\"emit\"}", ErrorCode::MalformedFrame, "`emit` frame needs a `channel` field"),
        ("{\"t\":\"answer\",\"channel\":\"x\"}", ErrorCode::MalformedFrame, "numeric `id`"),
        ("{\"t\":\"request\",\"channel\":\"x\",\"id\":1e400}", ErrorCode::MalformedFrame, "not a valid frame"),
        ("{\"t\":\"request\",\"channel\":\"x\",\"id\":-1}", ErrorCode::MalformedFrame, "not a valid frame"),
        ("{\"t\":\"subscribe\",\"channel\":\"x\"}", ErrorCode::UnknownFrameType, "unknown frame type `subscribe`"),
    ];
    for (text, code, needle) in cases {
        client.send_raw_text(*text).unwrap();
        let message = expect_error(&mut client, *code).await;
        assert!(message.contains(needle), "{text}: {message}");
    }
    // Nesting deeper than the decoder's recursion limit is refused, not a stack overflow.
    client.send_raw_text(format!("{}{}", "[".repeat(30_000), "]".repeat(30_000))).unwrap();
    expect_error(&mut client, ErrorCode::MalformedFrame).await;
    let deep =
        format!("{{\"t\":\"emit\",\"channel\":\"{channel}\",\"event\":\"note\",\"payload\":{}}}", "[".repeat(5_000));
    client.send_raw_text(deep).unwrap();
    expect_error(&mut client, ErrorCode::MalformedFrame).await;

    still_works(&client, channel).await;
    still_works(&neighbour, neighbour_channel).await;
}

#[tokio::test]
async fn a_malformed_request_with_an_id_is_answered_so_the_caller_does_not_hang() {
    let (_harness, mut client, channel, _, _) = setup(Config::default()).await;
    client.send_raw_text(format!("{{\"t\":\"request\",\"channel\":\"{channel}\",\"id\":77}}")).unwrap();
    match next_frame(&mut client).await {
        ServerFrame::Answer { id: 77, result: Err(error), .. } => {
            assert_eq!(error.code, ErrorCode::MalformedFrame);
            assert!(error.message.contains("`event`"), "{}", error.message);
        }
        other => panic!("expected a failed answer, got {other:?}"),
    }
    still_works(&client, channel).await;
}

/// protocol.md: a `request` whose `id` can be read is answered (failed, `malformed_frame`)
/// however its other fields are broken, echoing its `channel` when that is a string and
/// `""` otherwise; before, a missing, null or numeric `channel` or a numeric `event`
/// got a bare `error` and left the caller waiting for its timeout.
#[tokio::test]
async fn a_request_with_a_readable_id_is_answered_whatever_else_is_broken() {
    let (_harness, mut client, channel, _, _) = setup(Config::default()).await;
    let cases: &[(&str, u64, &str, &str)] = &[
        (r#"{"t":"request","id":101,"event":"add","payload":[1,2]}"#, 101, "", "needs a `channel` field"),
        (r#"{"t":"request","id":102,"channel":null,"event":"add"}"#, 102, "", "needs a `channel` field"),
        (
            r#"{"t":"request","id":103,"channel":42,"event":"add"}"#,
            103,
            "",
            "`channel` field of a `request` frame must be a string",
        ),
        (r#"{"t":"request","id":104,"channel":["x"],"event":"add"}"#, 104, "", "must be a string"),
        (
            r#"{"t":"request","id":105,"channel":"CH","event":7}"#,
            105,
            "CH",
            "`event` field of a `request` frame must be a string",
        ),
        (r#"{"t":"request","id":106,"channel":"CH"}"#, 106, "CH", "needs an `event` field"),
        (r#"{"t":"request","id":107,"channel":"CH","event":null,"error":5}"#, 107, "CH", "needs an `event` field"),
    ];
    for (text, id, echoed, needle) in cases {
        let echoed = echoed.replace("CH", &channel.to_string());
        client.send_raw_text(text.replace("CH", &channel.to_string())).unwrap();
        match next_frame(&mut client).await {
            ServerFrame::Answer { id: got, channel: echo, result: Err(error), .. } => {
                assert_eq!((got, echo.as_str()), (*id, echoed.as_str()), "{text}");
                assert_eq!(error.code, ErrorCode::MalformedFrame, "{text}");
                assert!(error.message.contains(needle), "{text}: {}", error.message);
            }
            other => panic!("{text}: expected a failed answer to {id}, got {other:?}"),
        }
    }
    still_works(&client, channel).await;
}

/// reliability.md: nesting past the depth limit is `malformed_frame`, also in a field
/// the frame type ignores; before, such a `pong` was accepted without a word.
#[tokio::test]
async fn nesting_past_the_depth_limit_is_refused_even_in_an_ignored_field() {
    let (_harness, mut client, channel, neighbour, neighbour_channel) = setup(Config::default()).await;
    let deep = 30_000;
    client.send_raw_text(format!(r#"{{"t":"pong","extra":{}{}}}"#, "[".repeat(deep), "]".repeat(deep))).unwrap();
    let message = expect_error(&mut client, ErrorCode::MalformedFrame).await;
    let limit = pulse_runtime::protocol::MAX_JSON_DEPTH;
    assert!(message.contains(&format!("deeper than {limit} levels")), "{message}");
    // Just inside the limit (the frame's own object is level 1) is fine, and silent.
    let inside = limit - 1;
    client.send_raw_text(format!(r#"{{"t":"pong","extra":{}{}}}"#, "[".repeat(inside), "]".repeat(inside))).unwrap();
    pulse_tests::expect_silence(&mut client, Duration::from_millis(100)).await;
    still_works(&client, channel).await;
    still_works(&neighbour, neighbour_channel).await;
}

/// The depth check stops at the first bracket past the limit: an 8,000-deep object is
/// refused at a byte near its start, not after the decoder walked all of it.
#[tokio::test]
async fn an_8000_deep_object_is_refused_at_the_limit_not_walked_to_its_end() {
    let (_harness, mut client, channel, _, _) = setup(Config::default()).await;
    let deep = 8_000;
    let text = format!(r#"{{"t":"pong","x":{}1{}}}"#, "{\"a\":".repeat(deep), "}".repeat(deep));
    let started = std::time::Instant::now();
    client.send_raw_text(text.clone()).unwrap();
    let message = expect_error(&mut client, ErrorCode::MalformedFrame).await;
    let at: usize = message.rsplit("at byte ").next().and_then(|n| n.trim_end_matches(')').parse().ok()).unwrap();
    let limit = pulse_runtime::protocol::MAX_JSON_DEPTH;
    // `{"t":"pong","x":` then `{"a":` per level: level `limit + 1` opens here.
    assert_eq!(at, r#"{"t":"pong","x":"#.len() + (limit - 1) * r#"{"a":"#.len(), "{message}");
    assert!(at < text.len() / 100, "{message}");
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    still_works(&client, channel).await;
}

#[tokio::test]
async fn unknown_events_and_wrong_payloads_on_emit_are_reported() {
    let (_harness, mut client, channel, _, _) = setup(Config::default()).await;
    client.emit(channel, "no_such_event", &1).unwrap();
    let message = expect_error(&mut client, ErrorCode::UnknownEvent).await;
    assert!(message.contains("no_such_event"), "{message}");
    client.emit(channel, "shout", &json!({ "not": "a string" })).unwrap();
    let message = expect_error(&mut client, ErrorCode::MalformedPayload).await;
    assert!(message.contains("`shout`"), "{message}");
    still_works(&client, channel).await;
}

#[tokio::test]
async fn binary_frames_are_refused_with_an_error_frame() {
    let (_harness, mut client, channel, _, _) = setup(Config::default()).await;
    client.send_raw_binary(vec![0, 159, 146, 150]).unwrap();
    let message = expect_error(&mut client, ErrorCode::UnsupportedFrame).await;
    assert!(message.contains("JSON text"), "{message}");
    still_works(&client, channel).await;
}

#[tokio::test]
async fn an_oversized_frame_closes_that_connection_only() {
    let config = Config { max_frame_bytes: 4096, ..Config::default() };
    let (harness, mut client, channel, neighbour, neighbour_channel) = setup(config).await;
    // Just under the limit is fine.
    let fits = "x".repeat(4000);
    assert_eq!(client.request(channel, "echo", &fits).await, Ok(json!(fits)));

    client.emit(channel, "note", &"x".repeat(5000)).unwrap();
    let (code, reason) = expect_disconnect(&mut client).await;
    assert_eq!(code, Some(4501));
    assert_eq!(reason, "frame_too_large: a message exceeded 4096 bytes");
    still_works(&neighbour, neighbour_channel).await;
    pulse_tests::eventually("the session is gone", || harness.server().stats().sessions == 1).await;
}

#[tokio::test]
async fn channels_per_session_are_limited() {
    let config = Config { max_channels_per_session: 3, ..Config::default() };
    let mut harness = Harness::with_config(config).await;
    let (_client, session) = harness.connect().await;
    let channels: Vec<_> = (0..3).map(|_| session.open_channel("c", pulse_runtime::PushOnly).unwrap()).collect();
    let err = session.open_channel("c", pulse_runtime::PushOnly).unwrap_err();
    assert_eq!(err, pulse_runtime::OpenError::TooManyChannels { limit: 3 });
    assert_eq!(err.to_string(), "the session already has 3 open channels, the most it may have");
    channels[0].close();
    session.open_channel("c", pulse_runtime::PushOnly).unwrap();
    assert_eq!(session.channel_count(), 3);
}

#[tokio::test]
async fn the_default_channel_limit_is_100() {
    let mut harness = Harness::start().await;
    let (_client, session) = harness.connect().await;
    for _ in 0..100 {
        session.open_channel("c", pulse_runtime::PushOnly).unwrap();
    }
    assert!(matches!(
        session.open_channel("c", pulse_runtime::PushOnly),
        Err(pulse_runtime::OpenError::TooManyChannels { limit: 100 })
    ));
}

#[tokio::test]
async fn reserved_and_invalid_channel_names_are_refused() {
    let mut harness = Harness::start().await;
    let (_client, session) = harness.connect().await;
    for name in ["__close__", "pulse_internal", "", "has space", "1abc"] {
        assert!(
            matches!(
                session.open_channel(name, pulse_runtime::PushOnly),
                Err(pulse_runtime::OpenError::InvalidName(_))
            ),
            "{name:?} was accepted"
        );
    }
}

#[tokio::test]
async fn pending_requests_per_session_are_limited_and_ids_unique() {
    let config = Config { max_pending_requests: 2, ..Config::default() };
    let (_harness, mut client, channel, _, _) = setup(config).await;
    let slow = |id: u64| {
        format!("{{\"t\":\"request\",\"channel\":\"{channel}\",\"id\":{id},\"event\":\"slow\",\"payload\":300}}")
    };
    client.send_raw_text(slow(1)).unwrap();
    client.send_raw_text(slow(1)).unwrap();
    match next_frame(&mut client).await {
        ServerFrame::Answer { id: 1, result: Err(error), .. } => assert_eq!(error.code, ErrorCode::DuplicateRequestId),
        other => panic!("expected duplicate id refusal, got {other:?}"),
    }
    client.send_raw_text(slow(2)).unwrap();
    client.send_raw_text(slow(3)).unwrap();
    match next_frame(&mut client).await {
        ServerFrame::Answer { id: 3, result: Err(error), .. } => assert_eq!(error.code, ErrorCode::TooManyRequests),
        other => panic!("expected too_many_requests, got {other:?}"),
    }
    // The two admitted requests complete normally, and then there is room again.
    for _ in 0..2 {
        assert!(matches!(next_frame(&mut client).await, ServerFrame::Answer { result: Ok(_), .. }));
    }
    still_works(&client, channel).await;
}

#[tokio::test]
async fn a_silent_client_is_closed_for_idleness_and_a_ponging_one_is_not() {
    let config = Config {
        heartbeat_interval: Duration::from_millis(50),
        idle_timeout: Duration::from_millis(200),
        ..Config::default()
    };
    let mut harness = Harness::with_config(config).await;
    let silent_options = pulse_runtime::client::ClientOptions { auto_pong: false, ..Default::default() };
    let (mut silent, _) = harness.connect_with(silent_options).await;
    let (mut lively, lively_session) = harness.connect().await;

    let (code, reason) = expect_disconnect(&mut silent).await;
    assert_eq!(code, Some(4001));
    assert!(reason.starts_with("idle_timeout"), "{reason}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(lively_session.is_connected());
    assert!(lively.try_next_frame().is_none());
}
