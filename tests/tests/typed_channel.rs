//! A `#[channel]` declaration end to end over a real socket: typed handlers, typed
//! emit, broadcast and requests in both directions.

use std::time::Duration;

use pulse_runtime::client::ServerFrame;
use pulse_runtime::prelude::*;
use pulse_runtime::protocol::ErrorCode;
use pulse_tests::{Harness, expect_open, next_frame};
use serde_json::json;

// The chat example's declaration, handled here by a plain struct instead of its state.
use chat::{Chat, ChatHandler, ChatToClient, ChatToServer, Location, Message, Notice, Online, RoomId};

#[derive(Default)]
struct Room {
    messages: Vec<Message>,
    name: String,
}

impl ChatHandler for Room {
    fn send_message(&mut self, cx: &mut ChannelCx<Chat>, msg: Message) {
        self.messages.push(msg.clone());
        cx.broadcast().new_message(msg);
    }

    fn history(&mut self, _cx: &mut ChannelCx<Chat>) -> impl Future<Output = Vec<Message>> + use<> {
        let messages = self.messages.clone();
        async move { messages }
    }

    fn set_name(&mut self, cx: &mut ChannelCx<Chat>, name: String) {
        self.name = name;
        cx.track(&Online { name: self.name.clone(), typing: false });
    }

    fn typing(&mut self, cx: &mut ChannelCx<Chat>, typing: bool) {
        cx.track(&Online { name: self.name.clone(), typing });
    }
}

fn message(user: &str, text: &str) -> Message {
    Message { user: user.into(), text: text.into() }
}

#[tokio::test]
async fn typed_handlers_emits_broadcasts_and_requests() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    let channel = Chat::open_in(&session, &RoomId::lobby(), Room::default()).unwrap();
    let id = expect_open(&mut client, "chat").await;
    assert_eq!(channel.id().untyped(), id);
    assert_eq!(channel.name(), "chat");
    // The chat tracks presence: the room's list (empty) follows `open`.
    match next_frame(&mut client).await {
        ServerFrame::Presence { state: true, joins, .. } => assert_eq!(joins, json!({})),
        other => panic!("expected the room's presence list, got {other:?}"),
    }
    // Listed under a name, typed by the declaration: the change comes back.
    client.emit(id, "set_name", &"Ann").unwrap();
    match next_frame(&mut client).await {
        ServerFrame::Presence { state: false, joins, .. } => {
            let session = session.id().to_string();
            assert_eq!(
                joins,
                json!({ session.clone(): [{ "id": session, "meta": { "name": "Ann", "typing": false } }] })
            );
        }
        other => panic!("expected a presence change, got {other:?}"),
    }

    // Client → server event, typed handler, typed broadcast back.
    client.emit(id, "send_message", &message("ann", "hello")).unwrap();
    match next_frame(&mut client).await {
        ServerFrame::Broadcast { name, event, payload, .. } => {
            assert_eq!((name.as_str(), event.as_str()), ("chat", "new_message"));
            assert_eq!(payload, json!({ "user": "ann", "text": "hello" }));
        }
        other => panic!("expected broadcast, got {other:?}"),
    }
    // Client → server request with a typed answer.
    assert_eq!(client.request(id, "history", &()).await, Ok(json!([{ "user": "ann", "text": "hello" }])));

    // Server → client typed emit.
    channel.notification(Notice { text: "welcome".into() });
    match next_frame(&mut client).await {
        ServerFrame::Emit { event, payload, .. } => {
            assert_eq!(event, "notification");
            assert_eq!(payload, json!({ "text": "welcome" }));
        }
        other => panic!("expected emit, got {other:?}"),
    }

    // Server → client typed request.
    let ask = tokio::spawn({
        let channel = channel.clone();
        async move { channel.get_location().timeout(Duration::from_secs(2)).await }
    });
    let request = match next_frame(&mut client).await {
        ServerFrame::Request { id: request, event, payload, .. } => {
            assert_eq!(event, "get_location");
            assert_eq!(payload, json!(null));
            request
        }
        other => panic!("expected request, got {other:?}"),
    };
    client.answer(id, request, &json!({ "lat": 40.7, "lng": -74.0 })).unwrap();
    assert_eq!(ask.await.unwrap(), Ok(Location { lat: 40.7, lng: -74.0 }));

    // The server-wide broadcast, outside any handler.
    let sent = Chat::to_room(harness.server(), &RoomId::lobby()).notification(Notice { text: "all".into() });
    assert_eq!(sent.result().unwrap(), pulse_runtime::Delivery::Queued(1));
    assert!(matches!(next_frame(&mut client).await, ServerFrame::Broadcast { .. }));
}

#[tokio::test]
async fn typed_dispatch_refuses_what_the_declaration_does_not_allow() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    Chat::open_in(&session, &RoomId::lobby(), Room::default()).unwrap();
    let id = expect_open(&mut client, "chat").await;
    assert!(matches!(next_frame(&mut client).await, ServerFrame::Presence { state: true, .. }));

    let refused = |code: ErrorCode| {
        move |frame: ServerFrame| match frame {
            ServerFrame::Error { error, .. } => assert_eq!(error.code, code, "{}", error.message),
            other => panic!("expected {code}, got {other:?}"),
        }
    };
    // A misspelt event, a server→client event sent by the client, a wrong payload.
    client.emit(id, "send_mesage", &message("a", "b")).unwrap();
    refused(ErrorCode::UnknownEvent)(next_frame(&mut client).await);
    client.emit(id, "new_message", &message("a", "b")).unwrap();
    refused(ErrorCode::UnknownEvent)(next_frame(&mut client).await);
    client.emit(id, "send_message", &json!({ "txt": 1 })).unwrap();
    refused(ErrorCode::MalformedPayload)(next_frame(&mut client).await);
    // A request sent as an emit, and an emit sent as a request.
    client.emit(id, "history", &()).unwrap();
    refused(ErrorCode::UnknownEvent)(next_frame(&mut client).await);
    let err = client.request(id, "send_message", &message("a", "b")).await.unwrap_err();
    assert_eq!(err.rejection_code(), Some(ErrorCode::UnknownEvent));
    // Nothing of that reached the room.
    assert_eq!(client.request(id, "history", &()).await, Ok(json!([])));
}

#[test]
fn the_wire_enums_match_the_protocol() {
    let event = ChatToServer::SendMessage(message("ann", "hi"));
    assert_eq!(event.event(), "send_message");
    assert!(!event.is_request());
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({ "event": "send_message", "payload": { "user": "ann", "text": "hi" } })
    );
    assert!(ChatToServer::History.is_request());
    assert_eq!(serde_json::to_value(ChatToClient::GetLocation).unwrap(), json!({ "event": "get_location" }));
}

#[test]
fn the_schema_describes_every_event() {
    let schema = Chat::schema();
    assert_eq!(schema.room.map(|t| t.rust), Some("RoomId"));
    assert_eq!(
        (schema.rust_name, schema.name, schema.docs),
        (
            "Chat",
            "chat",
            "Every event of the chat channel, its direction and its payload, declared once. A\n\
             chat channel opens in one room; its broadcasts reach that room only."
        )
    );
    let summary: Vec<_> = schema
        .events
        .iter()
        .map(|e| (e.name, e.direction, e.payload.map(|t| t.rust), e.response.map(|t| t.rust)))
        .collect();
    use pulse_runtime::typed::schema::Direction::*;
    assert_eq!(
        summary,
        vec![
            ("send_message", ToServer, Some("Message"), None),
            ("new_message", ToClient, Some("Message"), None),
            ("notification", ToClient, Some("Notice"), None),
            ("get_location", ToClient, None, Some("Location")),
            ("history", ToServer, None, Some("Vec<Message>")),
            ("set_name", ToServer, Some("String"), None),
            ("typing", ToServer, Some("bool"), None),
        ]
    );
}
