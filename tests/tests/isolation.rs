//! Channels belong to one session; broadcast reaches every session of a topic once.

use std::time::Duration;

use pulse_runtime::client::{Client, ServerFrame};
use pulse_runtime::protocol::ErrorCode;
use pulse_runtime::{ChannelError, Delivery, PushOnly};
use pulse_tests::{Harness, expect_open, expect_silence, next_frame, test_handlers};
use serde_json::json;

async fn expect_error(client: &mut Client, code: ErrorCode) {
    match next_frame(client).await {
        ServerFrame::Error { error, .. } => assert_eq!(error.code, code, "{}", error.message),
        other => panic!("expected {code} error, got {other:?}"),
    }
}

#[tokio::test]
async fn another_sessions_channel_cannot_be_reached() {
    let mut harness = Harness::start().await;
    let (mut alice, alice_session) = harness.connect().await;
    let (mut mallory, mallory_session) = harness.connect().await;
    let (handlers, mut seen) = test_handlers();
    alice_session.open_channel("chat", handlers).unwrap();
    let alice_channel = expect_open(&mut alice, "chat").await;
    mallory_session.open_channel("chat", test_handlers().0).unwrap();
    expect_open(&mut mallory, "chat").await;

    // Emit, request, answer and close naming Alice's channel from Mallory's session.
    mallory.emit(alice_channel, "note", &"injected").unwrap();
    expect_error(&mut mallory, ErrorCode::UnknownChannel).await;
    let err = mallory.request(alice_channel, "echo", &1).await.unwrap_err();
    assert_eq!(err.rejection_code(), Some(ErrorCode::UnknownChannel));
    mallory.close_channel(alice_channel).unwrap();
    expect_error(&mut mallory, ErrorCode::UnknownChannel).await;

    // Alice's handler saw nothing, her channel is open, and she hears nothing of it.
    assert!(seen.try_recv().is_err());
    assert_eq!(alice_session.channel_count(), 1);
    expect_silence(&mut alice, Duration::from_millis(50)).await;
    assert_eq!(alice.request(alice_channel, "echo", &"still mine").await, Ok(json!("still mine")));
}

#[tokio::test]
async fn a_made_up_channel_id_is_answered_at_once() {
    let mut harness = Harness::start().await;
    let (mut client, _session) = harness.connect().await;
    let started = std::time::Instant::now();
    let err = client.request(pulse_runtime::ChannelId::generate(), "echo", &1).await.unwrap_err();
    assert_eq!(err.rejection_code(), Some(ErrorCode::UnknownChannel));
    assert!(started.elapsed() < Duration::from_secs(1));
    client.send_raw_text(r#"{"t":"request","channel":"not-an-id","id":5,"event":"echo"}"#).unwrap();
    match next_frame(&mut client).await {
        ServerFrame::Answer { id: 5, result: Err(error), .. } => assert_eq!(error.code, ErrorCode::UnknownChannel),
        other => panic!("expected a failed answer, got {other:?}"),
    }
}

#[tokio::test]
async fn broadcast_reaches_every_member_session_exactly_once() {
    let mut harness = Harness::start().await;
    let mut members = Vec::new();
    for _ in 0..20 {
        let (mut client, session) = harness.connect().await;
        session.open_channel("room", PushOnly).unwrap();
        expect_open(&mut client, "room").await;
        members.push((client, session));
    }
    // One session has two channels of the name: it still gets each broadcast once.
    let (mut double, double_session) = harness.connect().await;
    double_session.open_channel("room", PushOnly).unwrap();
    double_session.open_channel("room", PushOnly).unwrap();
    expect_open(&mut double, "room").await;
    expect_open(&mut double, "room").await;
    // One session is on another topic and hears nothing.
    let (mut outsider, outsider_session) = harness.connect().await;
    outsider_session.open_channel("lobby", PushOnly).unwrap();
    expect_open(&mut outsider, "lobby").await;

    let reached = members[0].1.broadcast("room", "new_message", &json!({ "text": "hello all" })).unwrap();
    assert_eq!(reached, Delivery::Queued(21));
    for (client, _) in members.iter_mut().chain(std::iter::once(&mut (double, double_session))) {
        match next_frame(client).await {
            ServerFrame::Broadcast { name, event, payload, .. } => {
                assert_eq!(name, "room");
                assert_eq!(event, "new_message");
                assert_eq!(payload, json!({ "text": "hello all" }));
            }
            other => panic!("expected broadcast, got {other:?}"),
        }
        expect_silence(client, Duration::from_millis(20)).await;
    }
    expect_silence(&mut outsider, Duration::from_millis(20)).await;
}

#[tokio::test]
async fn broadcast_from_the_server_and_after_leaving() {
    let mut harness = Harness::start().await;
    let (mut a, a_session) = harness.connect().await;
    let (mut b, b_session) = harness.connect().await;
    let a_channel = a_session.open_channel("room", PushOnly).unwrap();
    b_session.open_channel("room", PushOnly).unwrap();
    expect_open(&mut a, "room").await;
    expect_open(&mut b, "room").await;

    assert_eq!(harness.server().broadcast("room", "tick", &1).unwrap(), Delivery::Queued(2));
    assert!(matches!(next_frame(&mut a).await, ServerFrame::Broadcast { .. }));
    assert!(matches!(next_frame(&mut b).await, ServerFrame::Broadcast { .. }));

    // Once A's channel is closed, A is no longer on the topic.
    a_channel.close();
    assert!(matches!(next_frame(&mut a).await, ServerFrame::Close { .. }));
    assert_eq!(harness.server().broadcast("room", "tick", &2).unwrap(), Delivery::Queued(1));
    assert!(matches!(next_frame(&mut b).await, ServerFrame::Broadcast { .. }));
    expect_silence(&mut a, Duration::from_millis(50)).await;
    assert_eq!(a_channel.emit("x", &1), Err(ChannelError::Closed));
}
