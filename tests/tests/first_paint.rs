//! A page's first paint over HTTP: the `GET` of a page answers `index.html` with the
//! page rendered into its root element and embedded as JSON, by the session the page's
//! connection then resumes (state made once); a page never connected gives its session
//! back; pages from one address cannot take the sessions others need.

use std::time::Duration;

use pulse_runtime::client::{Client, ServerFrame};
use pulse_runtime::html::*;
use pulse_runtime::prelude::*;
use pulse_runtime::{Config, RunningServer, Server};
use pulse_tests::pages::Page;
use pulse_tests::{eventually, http_get, http_request, metric, next_frame};
use serde_json::Value;

#[channel(events(ping() => server))]
struct RoomFeed;

/// Each room whose state was made, each time it was (the tests run side by side, in
/// rooms of their own).
static ROOMS_MADE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn times_made(room: &str) -> usize {
    ROOMS_MADE.lock().unwrap().iter().filter(|made| *made == room).count()
}

#[state]
struct RoomState {
    _feed: Channel<RoomFeed>,
    /// The room's topic, which a task fetches after the state is made (`None` until then).
    topic: Shared<Option<String>>,
}

impl RoomFeedHandler for RoomState {
    fn ping(&mut self, _cx: &mut ChannelCx<RoomFeed>) {}
}

#[component]
fn RoomView(cx: &mut Scope, room: String) -> Node {
    let state = cx.init(|cx| {
        ROOMS_MADE.lock().unwrap().push(room.clone());
        let topic = Shared::new(None);
        let fetched = topic.clone();
        let name = room.clone();
        tokio::spawn(async move {
            // A database would answer after a while.
            tokio::time::sleep(Duration::from_millis(30)).await;
            fetched.update(|topic| *topic = Some(format!("all about {name}")));
        });
        RoomState { _feed: cx.channel::<RoomFeed>(), topic }
    });
    let topic = state.read().topic.clone();
    let topic = cx.watch(&topic);
    let topic = match &*topic {
        Some(topic) => topic.clone(),
        None => {
            cx.still_loading();
            "loading…".to_owned()
        }
    };
    div((h2(format!("room {room}")), p(topic).class("topic")))
}

/// A page whose data never comes.
#[component]
fn Forever(cx: &mut Scope) -> Node {
    cx.still_loading();
    p("loading…")
}

#[component]
fn App(cx: &mut Scope) -> Node {
    match cx.page::<Page>().map(|routed| routed.page().clone()) {
        Some(Page::Room { room }) => RoomView { room: room.0 }.into_node(),
        Some(Page::Files { .. }) => Forever {}.into_node(),
        Some(_) => p("another page").into_node(),
        None => h2("not found").into_node(),
    }
}

const INDEX: &str = "<!doctype html><html><head><title>Rooms</title></head>\
                     <body><main id=\"app\" data-pulse-root></main><script src=\"/app.js\"></script></body></html>";

/// A server of `App`'s pages, with `config`, serving an `index.html` with a root element.
async fn serve(name: &str, config: Config) -> RunningServer {
    let builder = Server::builder().config(config).assets(assets(name)).pages::<Page>().root(|| App {});
    let builder = builder.metrics_unserved();
    builder.build().bind("127.0.0.1:0").await.unwrap()
}

/// The client's folder of the server named `name`, holding `INDEX`.
fn assets(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pulse-first-paint-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), INDEX).unwrap();
    dir
}

/// The page's embedded first paint, if it has one.
fn first_paint(page: &str) -> Option<Value> {
    let start = r#"<script type="application/json" id="pulse-first-paint">"#;
    let json = page.split_once(start)?.1.split_once("</script>")?.0;
    Some(serde_json::from_str(json).expect("the first paint is JSON"))
}

async fn resume(running: &RunningServer, session: &str, page: &str) -> Client {
    let url = format!("{}&resume={session}&last_seq=0&page={}", running.ws_url(), page.replace('/', "%2F"));
    Client::connect(&url).await.expect("the page's connection")
}

#[tokio::test]
async fn a_page_is_rendered_with_its_data_and_its_connection_continues_that_render() {
    let running = serve("continues", Config::default()).await;
    let (status, head, page) = http_get(running.local_addr(), "/rooms/abc").await;
    assert_eq!(status, 200);
    assert!(head.contains("cache-control: no-store"), "a page naming its session is never cached: {head}");
    assert!(head.contains("content-type: text/html; charset=utf-8"), "{head}");
    // The render with the data (not the `loading…` one), in the root element, before
    // the app's script.
    assert!(
        page.contains(
            "<main id=\"app\" data-pulse-root><div><h2>room abc</h2><p class=\"topic\">all about abc</p></div></main>\
             <script src=\"/app.js\">"
        ),
        "{page}"
    );
    // The page's title and description, from its route.
    assert!(page.contains("<title>Room abc</title><meta name=\"description\" content=\"The {abc} room\">"), "{page}");
    let paint = first_paint(&page).expect("the page carries its first paint");
    assert_eq!(paint["app_title"], "Rooms", "the app's own title, for pages without one");
    let session = paint["session"].as_str().expect("the session that rendered it").to_owned();
    let tree = paint["tree"].clone();
    assert_eq!(tree[0]["children"][1]["children"][0], "all about abc");

    // The page's connection resumes that session: everything since it started follows
    // (the channel its state opened, the same tree), and the state was made once.
    let mut client = resume(&running, &session, "/rooms/abc").await;
    assert!(client.hello().resumed, "the page's connection resumes the session that rendered it");
    assert_eq!(client.session_id().to_string(), session);
    let mut opened = false;
    let resumed_tree = loop {
        match next_frame(&mut client).await {
            ServerFrame::Open { name, .. } if name == "room_feed" => opened = true,
            ServerFrame::Tree { tree, .. } => break serde_json::to_value(tree).unwrap(),
            _ => {}
        }
    };
    assert!(opened, "the channel the render opened reaches the page");
    // The first tree sent may still be loading; patches bring it to the page's, and the
    // page says how many frames that takes (the client skips them).
    let mut client_tree = pulse_tests::vdom::ClientTree::new(&resumed_tree);
    let mut frames = 1;
    while serde_json::to_value(&client_tree.root).unwrap() != tree {
        if let ServerFrame::Patch { ops, .. } = next_frame(&mut client).await {
            client_tree.apply(&serde_json::to_value(ops).unwrap());
            frames += 1;
        }
    }
    assert_eq!(paint["frames"], frames, "the frames the page's tree holds");
    assert_eq!(times_made("abc"), 1, "the room's state was made once, not twice");
    assert_eq!(running.server().stats().sessions, 1);
    let scrape = running.server().metrics().unwrap();
    assert_eq!(metric(&scrape, r#"pulse_page_sessions_total{outcome="attached"}"#), 1.0);
    assert_eq!(metric(&scrape, "pulse_resumes_total"), 0.0, "a page's tab taking its session is no resume");
    running.shutdown().await;
}

#[tokio::test]
async fn a_client_built_again_while_the_server_runs_is_served_at_once() {
    let dir = assets("rebuilt");
    let builder = Server::builder().assets(&dir).pages::<Page>().root(|| App {});
    let running = builder.build().bind("127.0.0.1:0").await.unwrap();
    let (_, _, page) = http_get(running.local_addr(), "/rooms/one").await;
    assert_eq!(first_paint(&page).unwrap()["app_title"], "Rooms");
    // `npm run build` writes a new index.html, naming new bundles.
    let rebuilt =
        INDEX.replace("<title>Rooms</title>", "<title>Rooms &amp; more</title>").replace("app.js", "app-2.js");
    std::fs::write(dir.join("index.html"), rebuilt).unwrap();
    let (_, _, page) = http_get(running.local_addr(), "/rooms/two").await;
    assert!(page.contains("<script src=\"/app-2.js\">"), "{page}");
    assert_eq!(first_paint(&page).unwrap()["app_title"], "Rooms &amp; more", "as index.html writes it");
    running.shutdown().await;
}

#[tokio::test]
async fn an_address_of_no_page_renders_the_not_found_page_with_404() {
    let running = serve("not-found", Config::default()).await;
    for address in ["/nope", "/rooms/NOT_A_KEY", "/rooms/a/b"] {
        let (status, _, page) = http_get(running.local_addr(), address).await;
        assert_eq!(status, 404, "{address}");
        assert!(page.contains("data-pulse-root><h2>not found</h2></main>"), "{address}: {page}");
    }
    // An old address still redirects; the favicon a browser asks for costs no session.
    let (status, head, _) = http_get(running.local_addr(), "/?room=x").await;
    assert_eq!(status, 308);
    assert!(head.contains("location: /rooms/x\r\n"), "{head}");
    let before = running.server().stats().sessions;
    let icon = [("Accept", "image/avif,image/webp,image/*,*/*;q=0.8"), ("Connection", "close")];
    let (status, _, page) = http_request(running.local_addr(), "GET", "/favicon.ico", &icon).await;
    assert_eq!((status, page.as_str()), (404, INDEX));
    assert_eq!(running.server().stats().sessions, before, "no session for an icon");
    running.shutdown().await;
}

#[tokio::test]
async fn a_page_never_connected_gives_its_session_back_and_a_late_connection_starts_afresh() {
    let config = Config { resume_grace: Duration::from_millis(300), ..Config::default() };
    let running = serve("never-connected", config).await;
    let (_, _, page) = http_get(running.local_addr(), "/rooms/late").await;
    let session = first_paint(&page).unwrap()["session"].as_str().unwrap().to_owned();
    assert_eq!(running.server().stats().sessions, 1);
    eventually("the page's session ends", || running.server().stats().sessions == 0).await;
    let scrape = running.server().metrics().unwrap();
    assert_eq!(metric(&scrape, r#"pulse_page_sessions_total{outcome="unclaimed"}"#), 1.0);

    // The page's script came too late: the client gets a session of its own, which
    // renders the page afresh.
    let mut client = resume(&running, &session, "/rooms/late").await;
    assert!(!client.hello().resumed);
    assert_ne!(client.session_id().to_string(), session);
    loop {
        if let ServerFrame::Tree { tree, .. } = next_frame(&mut client).await {
            assert_eq!(serde_json::to_value(tree).unwrap()[0]["children"][0]["children"][0], "room late");
            break;
        }
    }
    running.shutdown().await;
}

#[tokio::test]
async fn pages_requested_from_one_address_cannot_take_the_sessions_others_need() {
    // 40 sessions: 10 may wait for their page's connection, 3 from one address.
    let config = Config { max_sessions: 40, max_connections_per_address: 3, ..Config::default() };
    let running = serve("flood", config).await;
    let mut waiting = 0;
    for _ in 0..8 {
        let (status, _, page) = http_get(running.local_addr(), "/rooms/flood").await;
        assert_eq!(status, 200, "every page is served");
        // Every page is rendered (a crawler's too); past the address's share, by a
        // session that does not wait for a connection.
        assert!(page.contains("<h2>room flood</h2>"), "{page}");
        if first_paint(&page).unwrap()["session"].is_string() {
            waiting += 1;
        }
    }
    assert_eq!(waiting, 3, "one address's share of sessions waiting for their page");
    eventually("only the sessions waiting for their page are left", || running.server().stats().sessions == 3).await;
    // The others still connect.
    let client = Client::connect(&running.ws_url()).await.expect("a connection");
    assert!(!client.hello().resumed);
    client.close().await;
    running.shutdown().await;
}

#[tokio::test]
async fn a_page_given_up_by_its_client_leaves_no_session_waiting() {
    use tokio::io::AsyncWriteExt as _;
    let config = Config { first_paint_wait: Duration::from_secs(30), ..Config::default() };
    let running = serve("given-up", config).await;
    let mut stream = tokio::net::TcpStream::connect(running.local_addr()).await.unwrap();
    let request = format!("GET /files/a HTTP/1.1\r\nHost: {}\r\nAccept: text/html\r\n\r\n", running.local_addr());
    stream.write_all(request.as_bytes()).await.unwrap();
    eventually("the page's session started", || running.server().stats().sessions == 1).await;
    // The client goes away while the page waits for its data: its session ends with
    // the request, not a minute later.
    drop(stream);
    eventually("the page's session ended", || running.server().stats().sessions == 0).await;
    running.shutdown().await;
}
