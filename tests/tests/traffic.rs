//! Emit and request/answer in both directions, with typed errors.

use std::time::{Duration, Instant};

use pulse_runtime::client::ServerFrame;
use pulse_runtime::protocol::{ErrorCode, WireError};
use pulse_runtime::{ChannelError, PushOnly};
use pulse_tests::{Harness, expect_open, expect_silence, next_frame, test_handlers};
use serde_json::json;

#[tokio::test]
async fn client_emits_reach_the_handler_in_order() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    let (handlers, mut seen) = test_handlers();
    session.open_channel("chat", handlers).unwrap();
    let channel = expect_open(&mut client, "chat").await;

    for i in 0..50 {
        client.emit(channel, "note", &json!({ "n": i })).unwrap();
    }
    for i in 0..50 {
        let (event, value) = seen.recv().await.unwrap();
        assert_eq!(event, "note");
        assert_eq!(value, json!({ "n": i }));
    }
}

/// A connection keeps a small read buffer and reads up to 16 KiB at a time: frames
/// smaller and larger than either, sent back to back (so one read holds several, and a
/// frame spans several reads), arrive whole and in order.
#[tokio::test]
async fn frames_of_every_size_sent_back_to_back_arrive_whole_and_in_order() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    let (handlers, mut seen) = test_handlers();
    session.open_channel("chat", handlers).unwrap();
    let channel = expect_open(&mut client, "chat").await;

    // Sizes around the read buffer (512), the read chunk (16 KiB) and the frame limit
    // (64 KiB), each text distinct; fewer frames than the inbound burst allows.
    let sizes = [1, 100, 500, 511, 512, 513, 1_000, 4_096, 16_383, 16_384, 16_385, 40_000, 60_000];
    let texts: Vec<String> = (0..300)
        .map(|i| {
            let size = sizes[i % sizes.len()];
            let digit = char::from(b'a' + (i % 26) as u8);
            format!("{i}:{}", digit.to_string().repeat(size))
        })
        .collect();
    for text in &texts {
        client.emit(channel, "note", text).unwrap();
    }
    for text in &texts {
        let (event, value) = seen.recv().await.unwrap();
        assert_eq!(event, "note");
        assert!(value.as_str() == Some(text.as_str()), "frame {} came back changed", &text[..text.find(':').unwrap()]);
    }
    // And a large request is answered whole.
    let large = "z".repeat(50_000);
    assert_eq!(client.request(channel, "echo", &large).await, Ok(json!(large)));
}

#[tokio::test]
async fn server_emits_arrive_with_increasing_sequence_numbers() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    let channel = session.open_channel("news", PushOnly).unwrap();
    let id = expect_open(&mut client, "news").await;
    assert_eq!(id, channel.id());

    channel.emit("headline", &json!({ "text": "one" })).unwrap();
    channel.emit("headline", &json!({ "text": "two" })).unwrap();
    let mut last_seq = 1; // the open frame was 1
    for text in ["one", "two"] {
        match next_frame(&mut client).await {
            ServerFrame::Emit { seq, channel, event, payload } => {
                assert_eq!(seq, last_seq + 1);
                last_seq = seq;
                assert_eq!(channel, id);
                assert_eq!(event, "headline");
                assert_eq!(payload, json!({ "text": text }));
            }
            other => panic!("expected emit, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_handler_can_emit_back_on_its_channel() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    session.open_channel("chat", test_handlers().0).unwrap();
    let channel = expect_open(&mut client, "chat").await;
    client.emit(channel, "shout", "hi").unwrap();
    match next_frame(&mut client).await {
        ServerFrame::Emit { event, payload, .. } => {
            assert_eq!(event, "heard");
            assert_eq!(payload, json!("HI"));
        }
        other => panic!("expected emit, got {other:?}"),
    }
}

#[tokio::test]
async fn client_requests_are_answered() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    session.open_channel("calc", test_handlers().0).unwrap();
    let channel = expect_open(&mut client, "calc").await;

    assert_eq!(client.request(channel, "add", &(2, 40)).await, Ok(json!(42)));
    assert_eq!(client.request(channel, "echo", &json!({ "a": [1, 2] })).await, Ok(json!({ "a": [1, 2] })));
    // An async handler answers later without blocking the session.
    let slow = client.request(channel, "slow", &200);
    let started = Instant::now();
    let (slow, quick) = tokio::join!(slow.into_future(), client.request(channel, "add", &(1, 1)).into_future());
    assert_eq!(quick, Ok(json!(2)));
    assert_eq!(slow, Ok(json!(200)));
    assert!(started.elapsed() >= Duration::from_millis(200));
}

use std::future::IntoFuture as _;

#[tokio::test]
async fn server_requests_are_answered_by_the_client() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    let channel = session.open_channel("chat", PushOnly).unwrap();
    let id = expect_open(&mut client, "chat").await;

    let ask = tokio::spawn({
        let channel = channel.clone();
        async move { channel.request("get_location", &()).answer_as::<(f64, f64)>().await }
    });
    let (request_id, payload) = match next_frame(&mut client).await {
        ServerFrame::Request { channel, id: request_id, event, payload, .. } => {
            assert_eq!(channel, id);
            assert_eq!(event, "get_location");
            (request_id, payload)
        }
        other => panic!("expected request, got {other:?}"),
    };
    assert_eq!(payload, json!(null));
    client.answer(id, request_id, &(40.7, -74.0)).unwrap();
    assert_eq!(ask.await.unwrap(), Ok((40.7, -74.0)));
}

#[tokio::test]
async fn each_request_error_is_distinct() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    session.open_channel("calc", test_handlers().0).unwrap();
    let channel = expect_open(&mut client, "calc").await;

    // Remote: the server handler failed.
    assert_eq!(client.request(channel, "fail", &()).await, Err(ChannelError::Remote("no luck today".into())));
    // Rejected: unknown event.
    let err = client.request(channel, "nope", &()).await.unwrap_err();
    assert_eq!(err.rejection_code(), Some(ErrorCode::UnknownEvent), "{err}");
    // Rejected: payload of the wrong type.
    let err = client.request(channel, "add", &"two and two").await.unwrap_err();
    assert_eq!(err.rejection_code(), Some(ErrorCode::MalformedPayload), "{err}");
    // Timeout: the handler takes longer than the caller waits.
    let err = client.request(channel, "slow", &2_000).timeout(Duration::from_millis(100)).await.unwrap_err();
    assert_eq!(err, ChannelError::Timeout);
    // The channel still works after all of that.
    assert_eq!(client.request(channel, "add", &(3, 4)).await, Ok(json!(7)));
}

#[tokio::test]
async fn server_request_errors_are_distinct() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    let channel = session.open_channel("chat", PushOnly).unwrap();
    let id = expect_open(&mut client, "chat").await;

    // Timeout, with a per-call setting.
    let started = Instant::now();
    let err = channel.request("get_location", &()).timeout(Duration::from_millis(100)).await.unwrap_err();
    assert_eq!(err, ChannelError::Timeout);
    assert!(started.elapsed() < Duration::from_secs(2));
    let late_id = match next_frame(&mut client).await {
        ServerFrame::Request { id, .. } => id,
        other => panic!("expected request, got {other:?}"),
    };
    // A late answer is dropped quietly: no error frame, nothing breaks.
    client.answer(id, late_id, &1).unwrap();
    expect_silence(&mut client, Duration::from_millis(100)).await;

    // Remote: the client's answer handler failed.
    let ask = tokio::spawn({
        let channel = channel.clone();
        async move { channel.request("get_location", &()).await }
    });
    let request_id = match next_frame(&mut client).await {
        ServerFrame::Request { id, .. } => id,
        other => panic!("expected request, got {other:?}"),
    };
    client.answer_error(id, request_id, &WireError::new(ErrorCode::HandlerFailed, "GPS is off")).unwrap();
    assert_eq!(ask.await.unwrap(), Err(ChannelError::Remote("GPS is off".into())));

    // Rejected: the client has no answerer for that event.
    let ask = tokio::spawn({
        let channel = channel.clone();
        async move { channel.request("get_weather", &()).await }
    });
    let request_id = match next_frame(&mut client).await {
        ServerFrame::Request { id, .. } => id,
        other => panic!("expected request, got {other:?}"),
    };
    client.answer_error(id, request_id, &WireError::new(ErrorCode::UnknownEvent, "no answerer")).unwrap();
    assert_eq!(ask.await.unwrap().unwrap_err().rejection_code(), Some(ErrorCode::UnknownEvent));

    // Payload: the answer does not decode into the declared type.
    let ask = tokio::spawn({
        let channel = channel.clone();
        async move { channel.request("get_count", &()).answer_as::<u32>().await }
    });
    let request_id = match next_frame(&mut client).await {
        ServerFrame::Request { id, .. } => id,
        other => panic!("expected request, got {other:?}"),
    };
    client.answer(id, request_id, &"many").unwrap();
    assert!(matches!(ask.await.unwrap(), Err(ChannelError::Payload(_))));
}

#[tokio::test]
async fn an_answer_to_a_request_never_sent_is_refused() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    session.open_channel("chat", PushOnly).unwrap();
    let id = expect_open(&mut client, "chat").await;
    client.answer(id, 999, &1).unwrap();
    match next_frame(&mut client).await {
        ServerFrame::Error { error, .. } => assert_eq!(error.code, ErrorCode::UnknownRequest),
        other => panic!("expected error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_panicking_handler_fails_only_its_request() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    session.open_channel("calc", test_handlers().0).unwrap();
    let channel = expect_open(&mut client, "calc").await;
    let (mut neighbour, neighbour_session) = harness.connect().await;
    neighbour_session.open_channel("calc", test_handlers().0).unwrap();
    let neighbour_channel = expect_open(&mut neighbour, "calc").await;

    let err = client.request(channel, "panic", &()).await.unwrap_err();
    assert_eq!(err, ChannelError::Remote("the handler for `panic` panicked".into()));
    // The same channel, the same session and another session all carry on.
    assert_eq!(client.request(channel, "add", &(1, 2)).await, Ok(json!(3)));
    assert_eq!(neighbour.request(neighbour_channel, "add", &(2, 2)).await, Ok(json!(4)));
    assert!(session.is_connected() && neighbour_session.is_connected());
}
