//! Authentication at connect, authorization of opens, events and requests, the origin
//! check on the upgrade, and the per-session inbound rate limit.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use pulse_runtime::client::{Client, ClientError, ServerFrame};
use pulse_runtime::protocol::{CloseCode, ErrorCode};
use pulse_runtime::{Access, Config, Handlers, OpenError, Origins, PushOnly, Server};
use pulse_tests::{Harness, expect_disconnect, expect_open, next_frame, upgrade_status};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;

#[derive(Debug, PartialEq)]
struct User {
    name: String,
    admin: bool,
}

impl pulse_runtime::Identity for User {
    fn user_key(&self) -> String {
        self.name.clone()
    }
}

/// Tokens `alice` (admin) and `bob`; anything else is refused.
fn secured() -> pulse_runtime::ServerBuilder {
    Server::builder()
        .authenticate(|request| {
            let token = request
                .query("token")
                .map(|token| token.into_owned())
                .or_else(|| request.cookie("token").map(str::to_owned));
            async move {
                match token.as_deref() {
                    Some("alice") => Ok(User { name: "alice".into(), admin: true }),
                    Some("bob") => Ok(User { name: "bob".into(), admin: false }),
                    Some(_) => Err("unknown token".to_owned()),
                    None => Err("no token".to_owned()),
                }
            }
        })
        .authorize(|session, access| {
            let admin = session.identity::<User>().is_some_and(|u| u.admin);
            match access {
                Access::Open { name: "admin", .. } if !admin => Err("admins only".into()),
                Access::Emit { event: "shutdown", .. } | Access::Request { event: "shutdown", .. } if !admin => {
                    Err("only admins may shut down".into())
                }
                _ => Ok(()),
            }
        })
}

#[tokio::test]
async fn authentication_gives_the_session_its_identity_or_refuses_for_good() {
    let mut harness = Harness::with_builder(secured()).await;
    let base = harness.running.ws_url();
    let (client, session) = harness.connect_with_url(&format!("{base}&token=alice")).await;
    assert_eq!(session.identity::<User>().as_deref(), Some(&User { name: "alice".into(), admin: true }));
    assert_eq!(session.identity::<String>(), None, "another type is not the identity");

    for (url, reason) in
        [(format!("{base}&token=mallory"), "forbidden: unknown token"), (base.clone(), "forbidden: no token")]
    {
        match Client::connect(&url).await {
            Err(ClientError::Refused { code, reason: got }) => {
                assert_eq!(code, Some(CloseCode::Forbidden.code()));
                assert_eq!(got, reason);
                assert!(!CloseCode::Forbidden.should_reconnect());
            }
            Err(other) => panic!("expected a refusal, got {other}"),
            Ok(_) => panic!("an unauthenticated client got a session"),
        }
    }
    // A cookie works as well as a query token, and the first session is untouched.
    let mut request = base.into_client_request().unwrap();
    request.headers_mut().insert("cookie", HeaderValue::from_static("theme=dark; token=bob"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let hello = socket.next().await.unwrap().unwrap();
    assert!(hello.to_text().unwrap().contains("\"t\":\"hello\""));
    let bob = harness.next_session().await;
    assert_eq!(bob.identity::<User>().map(|u| u.name.clone()).as_deref(), Some("bob"));
    assert!(session.is_connected());
    drop(client);
}

#[tokio::test]
async fn authorization_refuses_opens_events_and_requests_with_forbidden() {
    let mut harness = Harness::with_builder(secured()).await;
    let base = harness.running.ws_url();
    let (mut bob, bob_session) = harness.connect_with_url(&format!("{base}&token=bob")).await;
    let (mut alice, alice_session) = harness.connect_with_url(&format!("{base}&token=alice")).await;

    assert_eq!(bob_session.open_channel("admin", PushOnly).unwrap_err(), OpenError::Forbidden("admins only".into()));
    alice_session.open_channel("admin", PushOnly).unwrap();
    expect_open(&mut alice, "admin").await;

    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let handlers = |seen: Arc<std::sync::atomic::AtomicUsize>| {
        Handlers::new()
            .on("shutdown", move |_cx, (): ()| {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })
            .on_request("shutdown", |cx, (): ()| {
                Ok(cx.session().identity::<User>().map(|u| u.name.clone()).unwrap_or_default())
            })
    };
    bob_session.open_channel("ops", handlers(seen.clone())).unwrap();
    let bob_ops = expect_open(&mut bob, "ops").await;
    bob.emit(bob_ops, "shutdown", &()).unwrap();
    match next_frame(&mut bob).await {
        ServerFrame::Error { error, .. } => {
            assert_eq!(error.code, ErrorCode::Forbidden);
            assert_eq!(error.message, "only admins may shut down");
        }
        other => panic!("expected forbidden, got {other:?}"),
    }
    let err = bob.request(bob_ops, "shutdown", &()).await.unwrap_err();
    assert_eq!(err.rejection_code(), Some(ErrorCode::Forbidden));
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 0, "the handler never ran");

    // The admin may; the handler sees who asked.
    alice_session.open_channel("ops", handlers(seen.clone())).unwrap();
    let alice_ops = expect_open(&mut alice, "ops").await;
    assert_eq!(alice.request(alice_ops, "shutdown", &()).await, Ok(json!("alice")));

    // Bob trying alice's channel gets what any stranger gets: it does not exist for him.
    let err = bob.request(alice_ops, "shutdown", &()).await.unwrap_err();
    assert_eq!(err.rejection_code(), Some(ErrorCode::UnknownChannel));
}

#[tokio::test]
async fn the_origin_check_refuses_other_sites_with_403() {
    let harness = Harness::start().await;
    let url = harness.running.ws_url();
    let host = harness.running.local_addr().to_string();
    assert_eq!(upgrade_status(&url, Some(&format!("http://{host}"))).await, Ok(()));
    assert_eq!(upgrade_status(&url, None).await, Ok(()), "non-browser clients send no Origin");
    assert_eq!(upgrade_status(&url, Some("https://evil.example")).await, Err(403));

    let config = Config { origins: Origins::List(vec!["https://app.example".into()]), ..Config::default() };
    let listed = Harness::with_config(config).await;
    let url = listed.running.ws_url();
    assert_eq!(upgrade_status(&url, Some("https://app.example")).await, Ok(()));
    assert_eq!(upgrade_status(&url, Some(&format!("http://{host}"))).await, Err(403));
}

/// A cluster's nodes named once (`Config::nodes`, as `PULSE_NODES` sets it): `hello`
/// names them to the client, and a page served by another node is admitted with the
/// default origin rule, while a page of no node still gets 403.
#[tokio::test]
async fn the_clusters_nodes_are_named_in_hello_and_admit_each_others_pages() {
    let nodes = vec!["ws://127.0.0.1:4100/ws".to_owned(), "ws://127.0.0.1:4101/ws".to_owned()];
    let mut harness = Harness::with_config(Config { nodes: nodes.clone(), ..Config::default() }).await;
    let (client, _session) = harness.connect().await;
    assert_eq!(client.hello().nodes, nodes);
    let url = harness.running.ws_url();
    assert_eq!(upgrade_status(&url, Some("http://127.0.0.1:4101")).await, Ok(()), "another node's page");
    assert_eq!(upgrade_status(&url, Some("http://127.0.0.1:4102")).await, Err(403), "no node's page");
    // Without nodes, `hello` says nothing of them.
    let mut plain = Harness::start().await;
    let (client, _session) = plain.connect().await;
    assert!(client.hello().nodes.is_empty());
    assert_eq!(upgrade_status(&plain.running.ws_url(), Some("http://127.0.0.1:4101")).await, Err(403));
}

#[tokio::test]
async fn a_request_that_is_no_upgrade_gets_a_4xx_naming_what_is_missing_and_disturbs_no_one() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    let channel = session.open_channel("calc", pulse_tests::test_handlers().0).unwrap();
    let id = expect_open(&mut client, "calc").await;
    let addr = harness.running.local_addr();
    let upgrade = [
        ("Connection", "keep-alive, Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let without = |name: &str| -> Vec<(&str, &str)> {
        upgrade.iter().copied().filter(|(n, _)| *n != name).chain([("Connection", "close")]).collect()
    };

    let (status, _, body) = pulse_tests::http_get(addr, "/ws?v=1").await;
    assert_eq!((status, body.as_str()), (400, "a WebSocket upgrade needs `Connection: upgrade`"));
    let (status, head, _) = pulse_tests::http_request(addr, "POST", "/ws?v=1", &without("Connection")).await;
    assert_eq!(status, 405);
    assert!(head.contains("allow: get"), "{head}");
    let (status, _, body) = pulse_tests::http_request(addr, "HEAD", "/ws?v=1", &without("Connection")).await;
    assert_eq!((status, body.as_str()), (405, ""), "a HEAD answer has no body");
    let (status, _, body) = pulse_tests::http_request(addr, "GET", "/ws?v=1", &without("Sec-WebSocket-Key")).await;
    assert_eq!((status, body.as_str()), (400, "a WebSocket upgrade needs a `Sec-WebSocket-Key` header"));
    let mut old = without("Sec-WebSocket-Version");
    old.push(("Sec-WebSocket-Version", "8"));
    let (status, head, body) = pulse_tests::http_request(addr, "GET", "/ws?v=1", &old).await;
    assert_eq!((status, body.as_str()), (400, "a WebSocket upgrade needs `Sec-WebSocket-Version: 13`"));
    assert!(head.contains("sec-websocket-version: 13"), "{head}");

    // The session that was there saw none of it, and still works; no session was made.
    assert_eq!(harness.server().stats().sessions, 1);
    assert_eq!(client.request(id, "add", &[2, 3]).await, Ok(json!(5)));
    drop(channel);
}

#[tokio::test]
async fn a_client_over_the_rate_limit_is_closed_and_the_others_are_not() {
    let config = Config { inbound_frames_per_second: 50, inbound_burst: 20, ..Config::default() };
    let mut harness = Harness::with_config(config).await;
    let (mut flooder, flooder_session) = harness.connect().await;
    let (mut calm, calm_session) = harness.connect().await;
    calm_session.open_channel("calc", pulse_tests::test_handlers().0).unwrap();
    let calc = expect_open(&mut calm, "calc").await;

    for _ in 0..200 {
        if flooder.send_raw_text(r#"{"t":"pong"}"#).is_err() {
            break;
        }
    }
    let (code, reason) = expect_disconnect(&mut flooder).await;
    assert_eq!(code, Some(CloseCode::RateLimited.code()));
    assert_eq!(reason, "rate_limited: more than 50 frames per second");
    assert!(CloseCode::RateLimited.should_reconnect());
    flooder_session.closed().await;

    // Ten requests a second, well under the limit, keep working.
    for i in 0..10 {
        assert_eq!(calm.request(calc, "add", &(i, 1)).await, Ok(json!(i + 1)));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(calm_session.is_connected());
}

/// The page's address, as the TypeScript client sends it (`page`, percent-encoded), reaches
/// the session: `param` falls back to the page's query, `page_path` is its path, and the
/// URL's own parameters come first.
#[tokio::test]
async fn the_pages_address_reaches_the_session() {
    let mut harness = Harness::start().await;
    let page = "page=%2Fboards%2F7%3Froom%3Dfrom-page%26tab%3Dall%23top";
    let url = format!("{}&{page}&room=from-url", harness.running.ws_url());
    let (_client, session) = harness.connect_with_url(&url).await;
    assert_eq!(session.param("room").as_deref(), Some("from-url"));
    assert_eq!(session.param("tab").as_deref(), Some("all"));
    assert_eq!(session.param("missing"), None);
    assert_eq!(session.page_path().as_deref(), Some("/boards/7"));

    let (_client, plain) = harness.connect().await;
    assert_eq!((plain.param("room"), plain.page_path()), (None, None));
}

/// A browser cannot read why its upgrade was refused; the client asks with a probe: a
/// plain `GET` of the WebSocket URL with `probe`, answered as the upgrade would be (the
/// origin from `Origin`, or from `X-Pulse-Origin` for a same-origin page), readable from
/// any origin. A plain `GET` without `probe` is still refused as not an upgrade.
#[tokio::test]
async fn a_probe_says_how_an_upgrade_would_be_answered() {
    let config =
        Config { origins: Origins::List(vec!["https://app.example".into()]), max_sessions: 1, ..Config::default() };
    let mut harness = Harness::with_config(config).await;
    let addr = harness.running.local_addr();
    let probe = |headers: &'static [(&'static str, &'static str)]| {
        pulse_tests::http_request(addr, "GET", "/ws?v=1&probe=1", headers)
    };
    let (status, head, body) = probe(&[("Origin", "https://elsewhere.example"), ("Connection", "close")]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("origin not allowed: https://elsewhere.example"), "{body}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    let (status, _, body) = probe(&[("X-Pulse-Origin", "https://elsewhere.example"), ("Connection", "close")]).await;
    assert_eq!(status, 403, "a same-origin page names its origin: {body}");
    let (status, _, body) = probe(&[("X-Pulse-Origin", "https://app.example"), ("Connection", "close")]).await;
    assert_eq!((status, body.as_str()), (200, "ok: an upgrade with these headers would be taken"));

    // The one session there may be is taken: the probe says what the upgrade would.
    let mut request = harness.running.ws_url().into_client_request().unwrap();
    request.headers_mut().insert("origin", HeaderValue::from_static("https://app.example"));
    let (_first, _) = tokio_tungstenite::connect_async(request).await.expect("the first session");
    let _ = harness.next_session().await;
    let (status, _, body) = probe(&[("Origin", "https://app.example"), ("Connection", "close")]).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Config::max_sessions"), "{body}");

    let (status, _, body) = pulse_tests::http_get(addr, "/ws?v=1").await;
    assert_eq!(status, 400, "not a probe, not an upgrade: {body}");
}

/// A session is resumed by its own user only: another user's connection naming it gets
/// a session of its own, and the session still waits for its user.
#[tokio::test]
async fn a_session_is_resumed_by_its_own_user_only() {
    let harness = Harness::with_builder(secured()).await;
    let base = harness.running.ws_url();
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("{base}&token=alice")).await.unwrap();
    let hello = match socket.next().await {
        Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
            serde_json::from_str::<serde_json::Value>(text.as_str()).unwrap()
        }
        other => panic!("expected a hello, got {other:?}"),
    };
    let id = hello["session"].as_str().unwrap().to_owned();
    // The connection breaks (no close frame): the session waits to be resumed.
    drop(socket);

    let bob = Client::connect(&format!("{base}&token=bob&resume={id}&last_seq=0")).await.unwrap();
    assert!(!bob.hello().resumed, "bob may not take alice's session");
    assert_ne!(bob.session_id().to_string(), id);
    let alice = Client::connect(&format!("{base}&token=alice&resume={id}&last_seq=0")).await.unwrap();
    assert!(alice.hello().resumed, "alice's session waited for her");
    assert_eq!(alice.session_id().to_string(), id);
}
