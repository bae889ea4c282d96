//! Navigation over the socket: a `navigate` frame renders the new page, keeps what the
//! pages share (a layout's state), and closes the channels of the page left.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pulse_runtime::client::ServerFrame;
use pulse_runtime::html::*;
use pulse_runtime::prelude::*;
use pulse_runtime::protocol::ErrorCode;
use pulse_tests::pages::Page;
use pulse_tests::{Harness, expect_silence, next_frame};
use serde_json::Value;

#[channel(events(ping() => server))]
struct RoomFeed;

#[state]
struct RoomState {
    _feed: Channel<RoomFeed>,
}

impl RoomFeedHandler for RoomState {
    fn ping(&mut self, _cx: &mut ChannelCx<RoomFeed>) {}
}

#[component]
fn RoomView(cx: &mut Scope, room: String) -> Node {
    cx.init(|cx| RoomState { _feed: cx.channel::<RoomFeed>() });
    h2(format!("room {room}"))
}

/// How many times the layout's state was made (once per session, whatever the pages).
static LAYOUTS_MADE: AtomicUsize = AtomicUsize::new(0);

#[state]
struct LayoutState;

#[component]
fn Layout(cx: &mut Scope) -> Node {
    cx.init(|_| {
        LAYOUTS_MADE.fetch_add(1, Ordering::SeqCst);
        LayoutState
    });
    let page = match cx.page::<Page>().map(|routed| routed.page().clone()) {
        Some(Page::Room { room }) => RoomView { room: room.0 }.into_node(),
        Some(Page::Lobby) => p("lobby").into_node(),
        _ => p("not found").into_node(),
    };
    div((nav("links"), page))
}

/// The texts of the tree's `h2` and `p` elements, in order.
fn texts(tree: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(node: &Value, out: &mut Vec<String>) {
        if let Some(children) = node.get("children").and_then(Value::as_array) {
            if matches!(node["tag"].as_str(), Some("h2" | "p")) {
                out.extend(children.iter().filter_map(|c| c.as_str().map(str::to_owned)));
            }
            children.iter().for_each(|child| walk(child, out));
        }
    }
    tree.as_array().into_iter().flatten().for_each(|node| walk(node, &mut out));
    out
}

#[tokio::test]
async fn navigating_renders_the_new_page_keeps_the_layout_and_closes_the_page_left() {
    let mut harness = Harness::with_root(|| Layout {}).await;
    let url = harness.running.ws_url();
    let (mut client, session) = harness.connect_with_url(&format!("{url}&page=%2F")).await;
    let mut tree = loop {
        if let ServerFrame::Tree { tree: root, .. } = next_frame(&mut client).await {
            break pulse_tests::vdom::ClientTree::new(&root);
        }
    };
    assert_eq!(texts(&serde_json::to_value(&tree.root).unwrap()), ["lobby"]);

    client.navigate("/rooms/abc").unwrap();
    let mut opened = None;
    while opened.is_none() || texts(&serde_json::to_value(&tree.root).unwrap()) != ["room abc"] {
        match next_frame(&mut client).await {
            ServerFrame::Patch { ops, .. } => tree.apply(&ops),
            ServerFrame::Open { channel, name, .. } if name == "room_feed" => opened = Some(channel),
            _ => {}
        }
    }
    assert_eq!(session.page_path().as_deref(), Some("/rooms/abc"));
    assert_eq!(session.channel_count(), 1);

    client.navigate("/").unwrap();
    let mut closed = false;
    while !closed || texts(&serde_json::to_value(&tree.root).unwrap()) != ["lobby"] {
        match next_frame(&mut client).await {
            ServerFrame::Patch { ops, .. } => tree.apply(&ops),
            ServerFrame::Close { channel, .. } => closed |= Some(channel) == opened,
            _ => {}
        }
    }
    assert_eq!(session.channel_count(), 0, "the room's channel closed with its page");
    assert_eq!(LAYOUTS_MADE.load(Ordering::SeqCst), 1, "the layout's state was kept");

    // An address of no page renders the not-found page; one off this server is refused.
    client.navigate("/nope?x=1").unwrap();
    while texts(&serde_json::to_value(&tree.root).unwrap()) != ["not found"] {
        if let ServerFrame::Patch { ops, .. } = next_frame(&mut client).await {
            tree.apply(&ops);
        }
    }
    let long = format!("/{}", "x".repeat(8 * 1024));
    for elsewhere in ["//evil.com/x", "https://evil.com", "rooms/x", long.as_str()] {
        client.navigate(elsewhere).unwrap();
        match next_frame(&mut client).await {
            ServerFrame::Error { error, .. } => {
                assert_eq!(error.code, ErrorCode::MalformedFrame, "{}", &elsewhere[..20.min(elsewhere.len())])
            }
            other => panic!("{elsewhere}: expected an error, got {other:?}"),
        }
    }
    assert_eq!(session.page_path().as_deref(), Some("/nope"));
    assert_eq!(session.param("x").as_deref(), Some("1"), "the query of the page the client is on");
    expect_silence(&mut client, Duration::from_millis(100)).await;
}

/// The next `page` frame: its title and address.
async fn next_page_frame(client: &mut pulse_runtime::client::Client) -> (Option<String>, Option<String>) {
    loop {
        if let ServerFrame::Page { title, address, .. } = next_frame(client).await {
            return (title, address);
        }
    }
}

/// Navigates to `address`, whose page re-renders, and checks the tab is told nothing
/// of it (no `page` frame).
async fn navigate_untold(client: &mut pulse_runtime::client::Client, address: &str) {
    client.navigate(address).unwrap();
    loop {
        match next_frame(client).await {
            ServerFrame::Patch { .. } => break,
            ServerFrame::Page { title, address: own, .. } => panic!("{address}: told {title:?} {own:?}"),
            _ => {}
        }
    }
    expect_silence(client, Duration::from_millis(100)).await;
}

/// The page's name (a root of its own: `Layout` counts the layouts made).
#[component]
fn PageName(cx: &mut Scope) -> Node {
    p(format!("{:?}", cx.page::<Page>()))
}

#[tokio::test]
async fn the_tab_is_told_each_pages_title_and_the_own_address_of_an_old_one() {
    let mut harness = Harness::with_root(|| PageName {}).await;
    let url = harness.running.ws_url();
    let (mut client, _session) = harness.connect_with_url(&format!("{url}&page=%2Frooms%2Fabc")).await;
    assert_eq!(next_page_frame(&mut client).await, (Some("Room abc".into()), None));

    // An old address: the tab's address is replaced by the page's own, each time.
    for _ in 0..2 {
        client.navigate("/?room=xyz").unwrap();
        assert_eq!(next_page_frame(&mut client).await, (Some("Room xyz".into()), Some("/rooms/xyz".into())));
    }
    // A page with no title, after one with a title: the tab shows the app's own title.
    client.navigate("/").unwrap();
    assert_eq!(next_page_frame(&mut client).await, (None, None));
    // Another page without a title, or an address of no page: the tab already shows
    // the app's title, and nothing is said.
    for untitled in ["/nope", "/"] {
        navigate_untold(&mut client, untitled).await;
    }
    // An address of no page after a page with a title: the app's title again.
    client.navigate("/rooms/q").unwrap();
    assert_eq!(next_page_frame(&mut client).await, (Some("Room q".into()), None));
    client.navigate("/nope").unwrap();
    assert_eq!(next_page_frame(&mut client).await, (None, None));
    let titles = [
        (Page::Room { room: pulse_tests::pages::RoomKey("a".into()) }, Some("Room a"), Some("The {a} room")),
        (Page::Search { q: Some("x y".into()), page: 2 }, Some("Search: x y, page 2"), None),
        (Page::Search { q: None, page: 1 }, Some("Search: , page 1"), None),
        (Page::Lobby, None, None),
    ];
    for (page, title, description) in titles {
        assert_eq!(page.title().as_deref(), title, "{page:?}");
        assert_eq!(page.description().as_deref(), description, "{page:?}");
    }
}

#[tokio::test]
async fn a_sessions_first_page_without_a_title_gives_the_tab_the_apps_own() {
    // The tab may show what a session it lost told it: a fresh one says what it shows.
    let mut harness = Harness::with_root(|| PageName {}).await;
    let url = harness.running.ws_url();
    let (mut client, _session) = harness.connect_with_url(&format!("{url}&page=%2F")).await;
    assert_eq!(next_page_frame(&mut client).await, (None, None));
    navigate_untold(&mut client, "/nope").await;
}

#[tokio::test]
async fn a_server_without_pages_refuses_navigation() {
    let mut harness = Harness::start().await;
    let (mut client, _session) = harness.connect().await;
    client.navigate("/rooms/x").unwrap();
    match next_frame(&mut client).await {
        ServerFrame::Error { error, .. } => {
            assert_eq!(error.code, ErrorCode::UnsupportedFrame);
            assert!(error.message.contains("renders no pages"), "{}", error.message);
        }
        other => panic!("expected an error, got {other:?}"),
    }
}
