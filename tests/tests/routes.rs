//! Typed routes (`#[derive(Routes)]`): addresses parsed into pages and written back,
//! the most specific route first, old addresses redirected, and every address that
//! names no page, or whose parameter does not parse, not found.

use pulse_runtime::{Routed, Routes};
use pulse_tests::pages::{Page as Route, RoomKey};

fn room(key: &str) -> Route {
    Route::Room { room: RoomKey(key.to_owned()) }
}

fn route(address: &str) -> Option<Routed<Route>> {
    let (path, query) = address.split_once('?').unwrap_or((address, ""));
    Route::route(path, query)
}

#[test]
fn addresses_name_their_pages() {
    assert_eq!(route("/"), Some(Routed::Page(Route::Lobby)));
    assert_eq!(route("/rooms/lobby-2"), Some(Routed::Page(room("lobby-2"))));
    assert_eq!(route("/rooms/lobby-2/"), Some(Routed::Page(room("lobby-2"))), "a trailing `/` is ignored");
    assert_eq!(route("/rooms/new"), Some(Routed::Page(Route::NewRoom)));
    assert_eq!(route("/files/a/b%20c/d"), Some(Routed::Page(Route::Files { path: "a/b c/d".into() })));
    assert_eq!(route("/search?page=2"), Some(Routed::Page(Route::Search { q: None, page: 2 })));
    assert_eq!(route("/search?q=a+b&page=2"), Some(Routed::Page(Route::Search { q: Some("a b".into()), page: 2 })));
}

#[test]
fn old_addresses_redirect_to_their_pages() {
    assert_eq!(route("/?room=x"), Some(Routed::Redirect(room("x"))));
    assert_eq!(route("/r/x"), Some(Routed::Redirect(room("x"))));
    // Other query parameters do not make a redirect of the lobby.
    assert_eq!(route("/?theme=dark"), Some(Routed::Page(Route::Lobby)));
    // A redirect's parameter that does not parse is not found, like a page's.
    assert_eq!(route("/r/NOT_A_KEY"), None);
}

#[test]
fn what_names_no_page_or_does_not_parse_is_not_found() {
    for address in [
        "/rooms",
        "/rooms/",
        "/rooms/UPPER",
        "/rooms/a/b",
        "/files",
        "/search",
        "/search?page=x",
        "/search?page=-1",
        "/search?page=1&page=2",
        "/nope",
        "/rooms/%FF",
        "//",
    ] {
        assert_eq!(route(address), None, "{address}");
    }
}

#[test]
fn each_page_writes_the_address_that_names_it() {
    let pages = [
        Route::Lobby,
        room("a-1"),
        Route::NewRoom,
        Route::Files { path: "a b/ü/c%d".into() },
        Route::Search { q: Some("x&y=z ü".into()), page: 7 },
        Route::Search { q: None, page: 0 },
    ];
    for page in pages {
        let href = page.href();
        assert_eq!(href, page.to_string());
        assert_eq!(route(&href), Some(Routed::Page(page.clone())), "{href}");
    }
    assert_eq!(room("a-1").href(), "/rooms/a-1");
    assert_eq!(Route::Search { q: Some("a b".into()), page: 1 }.href(), "/search?q=a+b&page=1");
}

#[test]
fn the_table_lists_each_page_with_its_parameters() {
    let schema = Route::schema();
    let names: Vec<&str> = schema.iter().map(|r| r.name).collect();
    assert_eq!(names, ["Lobby", "Room", "NewRoom", "Files", "Search"]);
    assert_eq!(schema[1].docs, "One room.");
    let search = &schema[4];
    let query: Vec<(&str, bool)> = search.query.iter().map(|p| (p.name, p.required)).collect();
    assert_eq!(query, [("q", false), ("page", true)]);
}

/// The addresses `pulse-client-gen/ts/test/routes.test.ts` checks the TypeScript
/// `routes` make, read by the server: the two sides encode alike.
#[test]
fn addresses_made_by_the_typescript_routes_read_back() {
    let made = [
        ("/", Route::Lobby),
        ("/rooms/lobby-2", room("lobby-2")),
        ("/rooms/new", Route::NewRoom),
        ("/files/a%20b/%C3%BC/c%25d", Route::Files { path: "a b/ü/c%d".into() }),
        ("/search?q=x%26y%3Dz+%C3%BC&page=7", Route::Search { q: Some("x&y=z ü".into()), page: 7 }),
        ("/search?page=0", Route::Search { q: None, page: 0 }),
    ];
    for (address, page) in made {
        assert_eq!(route(address), Some(Routed::Page(page)), "{address}");
    }
}

/// Over HTTP, with the built app's files: a page's address gets the app (`200`), an old
/// address a redirect to the page's own (`308`), an address of no page the app with
/// `404`; the folder's files are served first.
#[tokio::test]
async fn addresses_are_answered_as_the_route_table_says() {
    use pulse_runtime::Server;
    use pulse_tests::http_get;

    let dir = std::env::temp_dir().join(format!("pulse-pages-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("rooms")).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><div id=app></div>").unwrap();
    std::fs::write(dir.join("app.js"), "console.log(1)").unwrap();
    let running = Server::builder().assets(&dir).pages::<Route>().build().bind("127.0.0.1:0").await.unwrap();
    let addr = running.local_addr();
    let app = "<!doctype html><div id=app></div>";

    for page in ["/", "/rooms/lobby-2", "/rooms/new", "/search?page=3", "/rooms"] {
        let (status, head, body) = http_get(addr, page).await;
        let expected = if page == "/rooms" { 404 } else { 200 };
        assert_eq!((status, body.as_str()), (expected, app), "{page}");
        assert!(head.contains("cache-control: no-cache"), "{head}");
    }
    for missing in ["/rooms/NOT_A_KEY", "/nope", "/search?page=x", "/rooms/a/b"] {
        let (status, _, body) = http_get(addr, missing).await;
        assert_eq!((status, body.as_str()), (404, app), "{missing}");
    }
    for (old, new) in [("/?room=x", "/rooms/x"), ("/r/lobby", "/rooms/lobby")] {
        let (status, head, _) = http_get(addr, old).await;
        assert_eq!(status, 308, "{old}");
        assert!(head.contains(&format!("location: {new}\r\n")), "{head}");
    }
    let (status, _, body) = http_get(addr, "/app.js").await;
    assert_eq!((status, body.as_str()), (200, "console.log(1)"));
    running.shutdown().await;
}

/// A session reads the page its client connected from (the `page` parameter the
/// TypeScript client sends).
#[tokio::test]
async fn a_session_knows_its_page() {
    let mut harness = pulse_tests::Harness::start().await;
    let url = harness.running.ws_url();
    let (_client, session) = harness.connect_with_url(&format!("{url}&page=%2Frooms%2Fabc%3Ftheme%3Ddark")).await;
    assert_eq!(Route::current(&session), Some(Routed::Page(room("abc"))));
    let (_client, session) = harness.connect_with_url(&format!("{url}&page=%2F%3Froom%3Dx")).await;
    assert_eq!(Route::current(&session), Some(Routed::Redirect(room("x"))));
    let (_client, session) = harness.connect_with_url(&format!("{url}&page=%2Fnope")).await;
    assert_eq!(Route::current(&session), None);
    let (_client, session) = harness.connect().await;
    assert_eq!(Route::current(&session), None, "no page said");
}

/// A blog whose pages take any text: what an old address's query gives a page can
/// never make its redirect leave the server, or land on an address that reads back as
/// another page.
#[derive(pulse_runtime::Routes, Debug, Clone, PartialEq)]
#[redirect("/?{slug}", to = Post)]
#[redirect("/old?{path}", to = File)]
enum Blog {
    #[route("/")]
    Home,
    #[route("/{slug}")]
    Post { slug: String },
    #[route("/f/{*path}")]
    File { path: String },
}

#[tokio::test]
async fn a_redirect_never_leaves_the_server() {
    use pulse_runtime::Server;
    use pulse_tests::{http_get, http_request};

    let dir = std::env::temp_dir().join(format!("pulse-blog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><div id=app></div>").unwrap();
    let running = Server::builder().assets(&dir).pages::<Blog>().build().bind("127.0.0.1:0").await.unwrap();
    let addr = running.local_addr();
    // A backslash is written encoded: `/\evil.com` would be another host to a browser.
    let (status, head, _) = http_get(addr, "/?slug=%5Cevil.com").await;
    assert_eq!(status, 308);
    assert!(head.contains("location: /%5cevil.com\r\n"), "{head}");
    // Values that would write `//evil.com`, or a dot segment, name no page.
    for old in ["/old?path=%2Fevil.com", "/old?path=a%2F%2Fb", "/?slug=..", "/?slug=."] {
        let (status, head, _) = http_get(addr, old).await;
        assert_eq!(status, 404, "{old}: {head}");
    }
    // An address of no page is a 404 with the page, even to a conditional request.
    let headers =
        [("Connection", "close"), ("If-Modified-Since", "Sat, 05 Dec 2099 00:00:00 GMT"), ("Range", "bytes=0-3")];
    let (status, _, body) = http_request(addr, "GET", "/f/a/..", &headers).await;
    assert_eq!((status, body.as_str()), (404, "<!doctype html><div id=app></div>"));
    running.shutdown().await;
}

/// A title may name any field, even one called as the derive's own locals might be.
#[test]
fn a_title_names_fields_whatever_they_are_called() {
    #[derive(pulse_runtime::Routes, Debug, Clone, PartialEq)]
    enum Odd {
        #[route("/o/{out}?{value}", title = "{out} and {value}")]
        Odd { out: String, value: Option<u32> },
    }
    let page = Odd::Odd { out: "x".into(), value: Some(2) };
    assert_eq!(pulse_runtime::Routes::title(&page).as_deref(), Some("x and 2"));
    let page = Odd::Odd { out: "y".into(), value: None };
    assert_eq!(pulse_runtime::Routes::title(&page).as_deref(), Some("y and "));
}
