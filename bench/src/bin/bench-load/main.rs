//! The load client: drives one server through one workload and prints one JSON line.
//!
//!   bench-load <kind> <port> fanout <sessions> <messages> <server-pid>
//!   bench-load <kind> <port>,<port2> fanout <sessions> <messages> <pid>,<pid2>,<redis-pid>
//!   bench-load <kind> <port> idle <sessions> <server-pid>
//!   bench-load <kind> <port> echo <concurrency> <requests-per-connection>
//!   bench-load <kind> <port> jitter <sessions> <messages>
//!   bench-load pulse <port> soak <cycles> <concurrency> <server-pid>
//!
//! Every kind is driven over plain tokio-tungstenite with the same steps; only the
//! framing differs (Pulse JSON frames, raw text, Socket.IO packets).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use pulse_bench::{Kind, find_ts, now_micros, payload};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use crate::conn::{Conn, client_busy, connect_many, cpu_seconds, histogram};

mod conn;
mod jitter;

/// Messages published at most ahead of full delivery (bounds every queue on the way).
const WINDOW: u64 = 16;

/// W1. With several nodes (`ports`), the subscribers are spread over them in turn and
/// the publisher is on the first; the server CPU is that of every process in `pids`.
async fn fanout(kind: Kind, ports: &[u16], sessions: usize, messages: u64, pids: &[u32]) -> String {
    let mut subscribers = Vec::with_capacity(sessions);
    for (i, port) in ports.iter().enumerate() {
        let share = sessions / ports.len() + usize::from(i < sessions % ports.len());
        subscribers.extend(connect_many(kind, *port, share).await);
    }
    // Joined a few hundred at a time: one by one, 20,000 sessions take longer than
    // Socket.IO's ping timeout, and the first ones (not read meanwhile) would be closed.
    for chunk in subscribers.chunks_mut(500) {
        futures_util::future::join_all(chunk.iter_mut().map(|conn| async move {
            conn.join().await;
            // The echo is a barrier: the join has been handled once it is answered.
            conn.echo("null").await;
        }))
        .await;
    }
    let delivered = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(histogram()));
    let mut tasks = Vec::new();
    for mut conn in subscribers {
        let delivered = delivered.clone();
        let latencies = latencies.clone();
        tasks.push(tokio::spawn(async move {
            let mut local = histogram();
            let mut seen = 0;
            while seen < messages {
                let text = conn.recv_text().await;
                if !conn.is_delivery(&text) {
                    continue;
                }
                if let Some(ts) = find_ts(&text) {
                    let _ = local.record(now_micros().saturating_sub(ts).max(1));
                }
                seen += 1;
                delivered.fetch_add(1, Ordering::Relaxed);
            }
            latencies.lock().await.add(&local).expect("same bounds");
        }));
    }
    let mut publisher = Conn::open(kind, ports[0]).await;
    let total = messages * sessions as u64;
    let servers_cpu = || pids.iter().map(|pid| cpu_seconds(*pid)).sum::<f64>();
    let cpu_before = servers_cpu();
    let client_before = cpu_seconds(std::process::id());
    let started = Instant::now();
    for i in 0..messages {
        if i >= WINDOW {
            let needed = (i - WINDOW + 1) * sessions as u64;
            while delivered.load(Ordering::Relaxed) < needed {
                tokio::time::sleep(Duration::from_micros(50)).await;
            }
        }
        publisher.publish(&payload(now_micros())).await;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while delivered.load(Ordering::Relaxed) < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let server_cpu = servers_cpu() - cpu_before;
    let client_cpu_pct = client_busy(client_before, elapsed);
    let got = delivered.load(Ordering::Relaxed);
    for task in tasks {
        task.abort();
    }
    let h = latencies.lock().await;
    format!(
        r#"{{"workload":"W1","kind":"{}","nodes":{},"sessions":{sessions},"messages":{messages},"delivered":{got},"expected":{total},"deliveries_per_s":{:.0},"server_cpu_s":{server_cpu:.2},"server_ns_per_delivery":{:.0},"p50_us":{},"p99_us":{},"client_cpu_pct":{client_cpu_pct:.0}}}"#,
        kind.name(),
        ports.len(),
        got as f64 / elapsed,
        server_cpu * 1e9 / got.max(1) as f64,
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99)
    )
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `RssAnon`, …).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The server's resident memory in KiB.
fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

async fn idle(kind: Kind, port: u16, sessions: usize, server_pid: u32) -> String {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(server_pid);
    let anon_before = status_kib(server_pid, "RssAnon");
    let started = Instant::now();
    let mut conns = connect_many(kind, port, sessions).await;
    // Every handshake (and Pulse's channel open) is done; the last echo proves the
    // server has caught up.
    if let Some(last) = conns.last_mut() {
        last.echo("null").await;
    }
    let connect_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(server_pid);
    let anon_after = status_kib(server_pid, "RssAnon");
    let per_session = |before: u64, after: u64| after.saturating_sub(before) as f64 * 1024.0 / sessions as f64;
    let (anon_per_session, per_session) = (per_session(anon_before, anon_after), per_session(before, after));
    drop(conns);
    format!(
        r#"{{"workload":"W2","kind":"{}","sessions":{sessions},"rss_before_kib":{before},"rss_after_kib":{after},"bytes_per_session":{per_session:.0},"anon_before_kib":{anon_before},"anon_after_kib":{anon_after},"anon_bytes_per_session":{anon_per_session:.0},"connect_s":{connect_s:.2}}}"#,
        kind.name()
    )
}

/// W2, after: `sessions` opened (as in W2), then all closed by their clients; the
/// server's RSS is sampled every 5 s for `seconds` (a minute) after the last session
/// ended. How much of the flood's growth the process keeps is `kept` (1: all of it, 0:
/// none).
async fn release(kind: Kind, port: u16, sessions: usize, server_pid: u32, seconds: u64) -> String {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(server_pid);
    let mut conns = connect_many(kind, port, sessions).await;
    if let Some(last) = conns.last_mut() {
        last.echo("null").await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let peak = rss_kib(server_pid);
    for conn in &mut conns {
        let _ = conn.sink.send(Message::Close(None)).await;
    }
    drop(conns);
    if kind.protocol() == pulse_bench::Protocol::Pulse {
        settle(port).await;
    }
    let ended = Instant::now();
    let mut samples = Vec::new();
    for second in (0..=seconds).step_by(5) {
        tokio::time::sleep_until((ended + Duration::from_secs(second)).into()).await;
        samples.push(rss_kib(server_pid));
    }
    let after = samples.last().copied().unwrap_or(peak);
    let kept = after.saturating_sub(before) as f64 / peak.saturating_sub(before).max(1) as f64;
    let samples: Vec<String> = samples.iter().map(u64::to_string).collect();
    format!(
        r#"{{"workload":"W2-release","kind":"{}","sessions":{sessions},"seconds":{seconds},"rss_before_kib":{before},"rss_peak_kib":{peak},"rss_after_kib":{after},"kept":{kept:.3},"rss_every_5s_kib":[{}]}}"#,
        kind.name(),
        samples.join(",")
    )
}

async fn echo(kind: Kind, port: u16, concurrency: usize, requests: usize) -> String {
    let conns = connect_many(kind, port, concurrency).await;
    let data = payload(0);
    let client_before = cpu_seconds(std::process::id());
    let started = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let data = data.clone();
            tokio::spawn(async move {
                let mut h = histogram();
                for _ in 0..requests {
                    let sent = Instant::now();
                    conn.echo(&data).await;
                    let _ = h.record((sent.elapsed().as_micros() as u64).max(1));
                }
                h
            })
        })
        .collect();
    let mut all = histogram();
    for task in tasks {
        all.add(task.await.expect("echo task")).expect("same bounds");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let client_cpu_pct = client_busy(client_before, elapsed);
    format!(
        r#"{{"workload":"W3","kind":"{}","concurrency":{concurrency},"requests":{},"round_trips_per_s":{:.0},"p50_us":{},"p99_us":{},"client_cpu_pct":{client_cpu_pct:.0}}}"#,
        kind.name(),
        concurrency * requests,
        (concurrency * requests) as f64 / elapsed,
        all.value_at_quantile(0.5),
        all.value_at_quantile(0.99)
    )
}

/// The Pulse bench server's `/stats` counters, as JSON.
async fn server_stats(port: u16) -> serde_json::Value {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.expect("stats connection");
    let request = format!("GET /stats HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("stats request");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("stats response");
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(body).expect("stats JSON")
}

/// One churn cycle: connect, open a channel, one request/answer, leave.
async fn churn_cycle(kind: Kind, port: u16) {
    let mut conn = Conn::open(kind, port).await;
    conn.join().await;
    conn.echo(&payload(0)).await;
    let _ = conn.sink.send(Message::Close(None)).await;
    while let Some(Ok(_)) = conn.stream.next().await {}
}

async fn soak(port: u16, cycles: usize, concurrency: usize, server_pid: u32) -> String {
    // Warm up so the allocator and the runtime reach their working size first: how
    // many sessions are alive at once peaks at a different moment each run, and the
    // heap keeps its high-water mark; after a fifth of the cycles it has reached it.
    churn(port, (concurrency * 2).max(cycles / 5), concurrency).await;
    settle(port).await;
    let before = rss_kib(server_pid);
    let stats_before = server_stats(port).await;
    let started = Instant::now();
    churn(port, cycles, concurrency).await;
    let elapsed = started.elapsed().as_secs_f64();
    let stats_after = settle(port).await;
    let after = rss_kib(server_pid);
    format!(
        r#"{{"workload":"soak","kind":"pulse","cycles":{cycles},"concurrency":{concurrency},"cycles_per_s":{:.0},"rss_before_kib":{before},"rss_after_kib":{after},"rss_change":{:.3},"before":{stats_before},"after":{stats_after}}}"#,
        cycles as f64 / elapsed,
        after as f64 / before.max(1) as f64 - 1.0,
    )
}

async fn churn(port: u16, cycles: usize, concurrency: usize) {
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let next = next.clone();
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < cycles as u64 {
                    churn_cycle(Kind::Pulse, port).await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("churn worker");
    }
}

/// Waits until the server holds no session, then returns its counters.
async fn settle(port: u16) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = server_stats(port).await;
        if stats["sessions"] == 0 || Instant::now() > deadline {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bench-load <pulse|raw|raw-per-frame|socketioxide|socketio-node> <port[,port…]> <fanout N M PID[,PID…] | idle N PID | release N PID [SECONDS] | echo C R | jitter N M | soak N C PID>";
    let kind = args.first().and_then(|k| Kind::parse(k)).expect(usage);
    let list = |i: usize| -> Vec<u64> {
        let items = args.get(i).map(|v| v.split(',').map(|n| n.parse().ok()).collect::<Option<Vec<u64>>>());
        items.flatten().filter(|items| !items.is_empty()).expect(usage)
    };
    let ports: Vec<u16> = list(1).into_iter().map(|p| p as u16).collect();
    let port = ports[0];
    let number = |i: usize| -> u64 { args.get(i).and_then(|v| v.parse().ok()).expect(usage) };
    let line = match args.get(2).map(String::as_str) {
        Some("fanout") => {
            let pids: Vec<u32> = list(5).into_iter().map(|p| p as u32).collect();
            fanout(kind, &ports, number(3) as usize, number(4), &pids).await
        }
        Some("idle") => idle(kind, port, number(3) as usize, number(4) as u32).await,
        Some("release") => {
            let seconds = args.get(5).and_then(|v| v.parse().ok()).unwrap_or(60);
            release(kind, port, number(3) as usize, number(4) as u32, seconds).await
        }
        Some("echo") => echo(kind, port, number(3) as usize, number(4) as usize).await,
        Some("jitter") => jitter::jitter(kind, port, number(3) as usize, number(4)).await,
        Some("soak") => soak(port, number(3) as usize, number(4) as usize, number(5) as u32).await,
        _ => panic!("{usage}"),
    };
    println!("{line}");
}
