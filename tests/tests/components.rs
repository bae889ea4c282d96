//! Server components over a real socket: the seed's ChatRoom, state changes from DOM
//! callbacks and channel handlers re-rendering into minimal patches, keyed reorders,
//! unmount closing channels, and failing renders isolated.

use std::time::Duration;

use chat::{Chat, RoomId};
use pulse_runtime::client::{Client, ServerFrame};
use pulse_runtime::html::*;
use pulse_runtime::prelude::*;
use pulse_runtime::protocol::ErrorCode;
use pulse_tests::vdom::{ClientTree, text_of};
use pulse_tests::{Harness, expect_silence, next_frame};
use serde_json::{Value, json};

/// Reads frames until the first `tree`, returning it and the frames before it.
async fn first_tree(client: &mut Client) -> (ClientTree, Vec<ServerFrame>) {
    let mut before = Vec::new();
    loop {
        match next_frame(client).await {
            ServerFrame::Tree { tree, .. } => return (ClientTree::new(&tree), before),
            other => before.push(other),
        }
    }
}

/// The next `patch`, applied to `tree`; returns its ops. Other frames are returned too.
async fn next_patch(client: &mut Client, tree: &mut ClientTree) -> (Value, Vec<ServerFrame>) {
    let mut others = Vec::new();
    loop {
        match next_frame(client).await {
            ServerFrame::Patch { ops, .. } => {
                tree.apply(&ops);
                return (ops, others);
            }
            other => others.push(other),
        }
    }
}

#[tokio::test]
async fn the_seeds_chat_room_renders_and_updates_over_a_real_socket() {
    let mut harness = Harness::with_builder(chat::server()).await;
    let room = harness.running.server().room_history::<Chat>(&RoomId::lobby());
    let (mut client, _session) = harness.connect().await;

    let (mut tree, before) = first_tree(&mut client).await;
    // The state opened its channel (and announced the newcomer) during the first render.
    let channel = before
        .iter()
        .find_map(|f| match f {
            ServerFrame::Open { channel, name, .. } if name == "chat" => Some(*channel),
            _ => None,
        })
        .expect("the chat channel was opened before the tree");
    assert_eq!(
        serde_json::to_value(&tree.root).unwrap(),
        json!([{
            "tag": "div",
            "key": "lobby",
            "children": [
                { "tag": "h2", "children": ["Chat: lobby"] },
                { "tag": "nav", "props": { "className": "rooms" }, "children": [
                    { "tag": "a", "key": "lobby", "props": { "href": "/rooms/lobby", "className": "current", "data-pulse-link": true }, "children": ["lobby"] },
                    { "tag": "a", "key": "random", "props": { "href": "/rooms/random", "data-pulse-link": true }, "children": ["random"] }
                ] },
                { "tag": "ul", "props": { "className": "server-messages" } },
                { "tag": "p", "props": { "className": "location" }, "children": ["locating…"] },
                { "tag": "$$ChatClient", "props": { "channelId": channel.to_string() }, "children": [
                    { "tag": "p", "props": { "className": "status" }, "children": ["loading the chat box…"] }
                ] }
            ]
        }])
    );

    // The client component sends a message on its channel: the server list grows by
    // exactly one item, and the message is broadcast to the client list.
    client.emit(channel, "send_message", &json!({ "user": "ann", "text": "hello" })).unwrap();
    let (ops, others) = next_patch(&mut client, &mut tree).await;
    assert_eq!(
        ops,
        json!([{ "op": "children", "path": [0, 2], "children": [
            { "node": { "tag": "li", "key": "1", "children": ["ann: hello"] } }
        ] }])
    );
    assert_eq!(tree.texts("ul"), vec!["ann: hello"]);
    let mut frames = others;
    while !frames.iter().any(|f| matches!(f, ServerFrame::Broadcast { event, .. } if event == "new_message")) {
        frames.push(next_frame(&mut client).await);
    }

    // The server asked for the location at mount; the answer re-renders one text.
    let request = loop {
        if let Some(id) = before.iter().chain(&frames).find_map(|f| match f {
            ServerFrame::Request { id, event, .. } if event == "get_location" => Some(*id),
            _ => None,
        }) {
            break id;
        }
        frames.push(next_frame(&mut client).await);
    };
    client.answer(channel, request, &json!({ "lat": 40.7, "lng": -74.0 })).unwrap();
    let (ops, _) = next_patch(&mut client, &mut tree).await;
    assert_eq!(ops, json!([{ "op": "replace", "path": [0, 3, 0], "node": "your location: 40.7, -74.0" }]));

    // A client request on the same channel: the room's history.
    assert_eq!(client.request(channel, "history", &()).await, Ok(json!([{ "user": "ann", "text": "hello" }])));
    assert_eq!(room.read().len(), 1);
}

#[tokio::test]
async fn a_message_from_one_session_re_renders_every_chat_room() {
    let mut harness = Harness::with_builder(chat::server()).await;
    let room = harness.running.server().room_history::<Chat>(&RoomId::lobby());
    let (mut a, _) = harness.connect().await;
    let (mut b, _) = harness.connect().await;
    let (mut a_tree, a_before) = first_tree(&mut a).await;
    let (mut b_tree, _) = first_tree(&mut b).await;
    let a_channel = a_before
        .iter()
        .find_map(|f| if let ServerFrame::Open { channel, .. } = f { Some(*channel) } else { None })
        .unwrap();

    a.emit(a_channel, "send_message", &json!({ "user": "ann", "text": "to everyone" })).unwrap();
    next_patch(&mut a, &mut a_tree).await;
    next_patch(&mut b, &mut b_tree).await;
    assert_eq!(a_tree.texts("ul"), vec!["ann: to everyone"]);
    assert_eq!(b_tree.texts("ul"), vec!["ann: to everyone"]);
    assert_eq!(room.watcher_count(), 2);
    drop(a);
    pulse_tests::eventually("the closed session stops watching the room", || room.watcher_count() == 1).await;
}

// ---------------------------------------------------------------------------------------
// Components written for these tests
// ---------------------------------------------------------------------------------------

#[state]
struct Counter {
    n: i64,
    items: Vec<&'static str>,
}

#[component]
fn CounterView(cx: &mut Scope, title: String) -> Node {
    let state = cx.init(|_| Counter { n: 0, items: vec!["a", "b", "c"] });
    let s = state.read();
    div((
        h1(title),
        p(format!("count: {}", s.n)),
        button("+").on_click(state.on(|s, _| s.n += 1)),
        button("rotate").on_click(state.on(|s, _| s.items.rotate_left(1))),
        input()
            .value(s.n.to_string())
            .on_change(state.on(|s, ev| s.n = ev.value.as_deref().unwrap_or("0").parse().unwrap_or(-1))),
        ul(s.items.iter().map(|item| li(*item).key(item))),
    ))
}

#[tokio::test]
async fn a_callback_changes_state_and_only_the_difference_is_sent() {
    let mut harness = Harness::with_root(|| CounterView { title: "Counter".into() }).await;
    let (mut client, session) = harness.connect().await;
    let (mut tree, _) = first_tree(&mut client).await;
    assert_eq!(tree.texts("p"), vec!["count: 0"]);

    let plus = tree.callback("button", "+", "onClick");
    client.callback(&plus, &json!({ "type": "click" })).unwrap();
    let (ops, _) = next_patch(&mut client, &mut tree).await;
    assert_eq!(
        ops,
        json!([
            { "op": "replace", "path": [0, 1, 0], "node": "count: 1" },
            { "op": "props", "path": [0, 4], "set": { "value": "1" } }
        ])
    );

    // `on_change` carries the input's value.
    let change = tree.callback("input", "", "onChange");
    client.callback(&change, &json!({ "type": "change", "value": "41" })).unwrap();
    next_patch(&mut client, &mut tree).await;
    assert_eq!(tree.texts("p"), vec!["count: 41"]);

    // Two clicks in one tick make one render pass and one patch.
    client.callback(&plus, &json!({ "type": "click" })).unwrap();
    client.callback(&plus, &json!({ "type": "click" })).unwrap();
    next_patch(&mut client, &mut tree).await;
    if tree.texts("p") != vec!["count: 43"] {
        next_patch(&mut client, &mut tree).await;
    }
    assert_eq!(tree.texts("p"), vec!["count: 43"]);
    assert!(session.is_connected());
}

#[tokio::test]
async fn a_keyed_reorder_moves_items_without_resending_them() {
    let mut harness = Harness::with_root(|| CounterView { title: "List".into() }).await;
    let (mut client, _) = harness.connect().await;
    let (mut tree, _) = first_tree(&mut client).await;
    let rotate = tree.callback("button", "rotate", "onClick");
    client.callback(&rotate, &json!({})).unwrap();
    let (ops, _) = next_patch(&mut client, &mut tree).await;
    assert_eq!(
        ops,
        json!([{ "op": "children", "path": [0, 5], "children": [{ "keep": 1 }, { "keep": 2 }, { "keep": 0 }] }])
    );
    assert_eq!(tree.texts("ul"), vec!["b", "c", "a"]);
}

#[tokio::test]
async fn unknown_and_malformed_callbacks_are_refused_and_nothing_changes() {
    let mut harness = Harness::with_root(|| CounterView { title: "Counter".into() }).await;
    let (mut client, _) = harness.connect().await;
    let (mut tree, _) = first_tree(&mut client).await;
    client.callback("999:1", &json!({})).unwrap();
    match next_frame(&mut client).await {
        ServerFrame::Error { error, .. } => assert_eq!(error.code, ErrorCode::UnknownCallback),
        other => panic!("expected unknown_callback, got {other:?}"),
    }
    let plus = tree.callback("button", "+", "onClick");
    client.callback(&plus, &json!({ "value": 12 })).unwrap();
    match next_frame(&mut client).await {
        ServerFrame::Error { error, .. } => assert_eq!(error.code, ErrorCode::MalformedPayload),
        other => panic!("expected malformed_payload, got {other:?}"),
    }
    expect_silence(&mut client, Duration::from_millis(100)).await;
    client.callback(&plus, &json!({ "type": "click" })).unwrap();
    next_patch(&mut client, &mut tree).await;
    assert_eq!(tree.texts("p"), vec!["count: 1"]);
}

// A child whose state opens a channel and asks the client something; unmounting it must
// close the channel and fail that request at once.

#[channel(events(ask() -> String => client))]
struct Probe;

#[state]
struct ProbeState {
    _channel: Channel<Probe>,
}

/// Why the probe's channel closed, as its handler's `on_close` heard it.
static PROBE_CLOSED: std::sync::Mutex<Vec<CloseReason>> = std::sync::Mutex::new(Vec::new());

impl ProbeHandler for ProbeState {
    fn on_close(&mut self, reason: CloseReason) {
        PROBE_CLOSED.lock().unwrap().push(reason);
    }
}

#[component]
fn ProbeView(cx: &mut Scope, outcome: Shared<Option<String>>) -> Node {
    cx.init(|cx| {
        let channel = cx.channel::<Probe>();
        let asking = channel.clone();
        tokio::spawn(async move {
            let result = asking.ask().timeout(Duration::from_secs(30)).await;
            outcome.update(|o| *o = Some(format!("{result:?}")));
        });
        ProbeState { _channel: channel }
    });
    p("probing")
}

#[state]
struct Toggle {
    on: bool,
}

#[component]
fn ProbeParent(cx: &mut Scope, outcome: Shared<Option<String>>) -> Node {
    let state = cx.init(|_| Toggle { on: true });
    let on = state.read().on;
    div((button("toggle").on_click(state.on(|s, _| s.on = !s.on)), on.then(|| ProbeView { outcome: outcome.clone() })))
}

#[tokio::test]
async fn unmounting_closes_the_components_channels_and_fails_their_requests_at_once() {
    let outcome = Shared::new(None);
    let root_outcome = outcome.clone();
    let mut harness = Harness::with_root(move || ProbeParent { outcome: root_outcome.clone() }).await;
    let (mut client, session) = harness.connect().await;
    let (mut tree, mut before) = first_tree(&mut client).await;
    let probe = loop {
        if let Some(channel) = before.iter().find_map(|f| match f {
            ServerFrame::Open { channel, name, .. } if name == "probe" => Some(*channel),
            _ => None,
        }) {
            break channel;
        }
        before.push(next_frame(&mut client).await);
    };
    while !before.iter().any(|f| matches!(f, ServerFrame::Request { .. })) {
        before.push(next_frame(&mut client).await);
    }
    assert_eq!(session.channel_count(), 1);

    let started = std::time::Instant::now();
    let toggle = tree.callback("button", "toggle", "onClick");
    client.callback(&toggle, &json!({})).unwrap();
    let (ops, others) = next_patch(&mut client, &mut tree).await;
    assert_eq!(ops, json!([{ "op": "children", "path": [0], "children": [{ "keep": 0 }] }]));
    let mut frames = others;
    while !frames.iter().any(|f| matches!(f, ServerFrame::Close { channel, .. } if *channel == probe)) {
        frames.push(next_frame(&mut client).await);
    }
    pulse_tests::eventually("the pending request failed", || outcome.read().is_some()).await;
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    assert_eq!(outcome.read().as_deref(), Some("Err(Closed)"));
    assert_eq!(session.channel_count(), 0);
    assert_eq!(*PROBE_CLOSED.lock().unwrap(), [CloseReason::Unmounted]);
}

// A component that panics when told to, next to one that keeps working.

#[state]
struct Flags {
    explode: bool,
    clicks: u32,
}

#[component]
fn Fragile(cx: &mut Scope, explode: bool) -> Node {
    if explode {
        panic!("fragile component exploded");
    }
    let _ = cx;
    p("fragile and fine")
}

#[component]
fn Failing(cx: &mut Scope, fail: bool) -> Result<Node, String> {
    let _ = cx;
    if fail { Err("no data today".to_owned()) } else { Ok(p("failing is fine")) }
}

#[component]
fn Isolation(cx: &mut Scope) -> Node {
    let state = cx.init(|_| Flags { explode: false, clicks: 0 });
    let s = state.read();
    div((
        button("explode").on_click(state.on(|s, _| s.explode = true)),
        button("click").on_click(state.on(|s, _| s.clicks += 1)),
        p(format!("clicks: {}", s.clicks)),
        Fragile { explode: s.explode },
        Failing { fail: s.explode },
    ))
}

#[tokio::test]
async fn a_failing_render_reports_an_error_and_the_rest_lives_on() {
    let mut harness = Harness::with_root(|| Isolation {}).await;
    let (mut client, session) = harness.connect().await;
    let (mut tree, _) = first_tree(&mut client).await;
    let explode = tree.callback("button", "explode", "onClick");
    client.callback(&explode, &json!({})).unwrap();

    let mut errors = Vec::new();
    while errors.len() < 2 {
        match next_frame(&mut client).await {
            ServerFrame::RenderError { component, message, .. } => errors.push((component, message)),
            ServerFrame::Patch { ops, .. } => tree.apply(&ops),
            other => panic!("unexpected {other:?}"),
        }
    }
    errors.sort();
    assert_eq!(
        errors,
        vec![
            ("Failing".to_owned(), "no data today".to_owned()),
            ("Fragile".to_owned(), "render panicked: fragile component exploded".to_owned()),
        ]
    );
    // Both keep their last good output; the parent and the session carry on.
    let texts: Vec<String> = tree.root.iter().map(text_of).collect();
    assert!(texts[0].contains("fragile and fine") && texts[0].contains("failing is fine"), "{texts:?}");
    let click = tree.callback("button", "click", "onClick");
    client.callback(&click, &json!({})).unwrap();
    loop {
        match next_frame(&mut client).await {
            ServerFrame::Patch { ops, .. } => {
                tree.apply(&ops);
                break;
            }
            ServerFrame::RenderError { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(tree.nodes().iter().any(|n| text_of(n) == "clicks: 1"));
    assert!(session.is_connected());
}

#[state]
struct Restless {
    renders: u64,
}

#[component]
fn RenderLoop(cx: &mut Scope) -> Node {
    let state = cx.init(|_| Restless { renders: 0 });
    // Changing state during render would re-render forever without the guard.
    state.update(|s| s.renders += 1);
    let renders = state.read().renders;
    p(format!("renders: {renders}"))
}

#[tokio::test]
async fn a_render_that_changes_its_own_state_is_stopped_by_the_loop_guard() {
    let mut harness = Harness::with_root(|| RenderLoop {}).await;
    let (mut client, session) = harness.connect().await;
    let (mut tree, _) = first_tree(&mut client).await;
    let message = loop {
        match next_frame(&mut client).await {
            ServerFrame::Patch { ops, .. } => tree.apply(&ops),
            ServerFrame::RenderError { message, .. } => break message,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(message.starts_with("render loop"), "{message}");
    // It stopped: no endless stream of patches.
    let _ = tokio::time::timeout(Duration::from_millis(50), client.next_frame()).await;
    expect_silence(&mut client, Duration::from_millis(200)).await;
    assert!(session.is_connected());
}

// A state that closes its own channel from one of its DOM callbacks: the callback holds
// the state while the channel's `on_close` needs it. The hook runs once the state is
// free, and re-renders what it changed; nothing waits on itself.

#[channel(events(ping() => server))]
struct Bell;

#[state]
struct BellState {
    bell: Channel<Bell>,
    closed: Vec<CloseReason>,
}

impl BellHandler for BellState {
    fn ping(&mut self, _cx: &mut ChannelCx<Bell>) {}

    fn on_close(&mut self, reason: CloseReason) {
        self.closed.push(reason);
    }
}

#[component]
fn BellView(cx: &mut Scope) -> Node {
    let state = cx.init(|cx| BellState { bell: cx.channel::<Bell>(), closed: Vec::new() });
    let closed = format!("closed: {:?}", state.read().closed);
    div((button("close").on_click(state.on(|s, _| s.bell.close())), p(closed)))
}

#[tokio::test]
async fn a_state_closing_its_own_channel_from_a_callback_hears_on_close() {
    let mut harness = Harness::with_root(|| BellView {}).await;
    let (mut client, session) = harness.connect().await;
    let (mut tree, before) = first_tree(&mut client).await;
    let bell = before
        .iter()
        .find_map(|f| match f {
            ServerFrame::Open { channel, name, .. } if name == "bell" => Some(*channel),
            _ => None,
        })
        .expect("the bell channel was opened before the tree");
    assert_eq!(tree.texts("p"), vec!["closed: []"]);
    let close = tree.callback("button", "close", "onClick");
    client.callback(&close, &json!({ "type": "click" })).unwrap();
    let mut frames = Vec::new();
    while tree.texts("p") != vec!["closed: [Server]"] {
        let (_, others) = next_patch(&mut client, &mut tree).await;
        frames.extend(others);
    }
    while !frames.iter().any(|f| matches!(f, ServerFrame::Close { channel, .. } if *channel == bell)) {
        frames.push(next_frame(&mut client).await);
    }
    assert_eq!(session.channel_count(), 0);
}
