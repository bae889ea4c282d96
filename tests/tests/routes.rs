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
