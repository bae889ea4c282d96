#!/usr/bin/env python3
"""Turns the load client's JSON lines into the tables of docs/benchmarks.md, with each
result's ratio to the raw tokio-tungstenite baseline measured in the same run. In smoke
mode it checks every run delivered everything and fails otherwise."""

import datetime
import json
import platform
import statistics
import subprocess
import sys

RAW = "raw tokio-tungstenite"
PER_FRAME = "raw, a write per frame"
ORDER = [RAW, PER_FRAME, "pulse", "socketioxide", "Socket.IO (Node)"]


# The most a churn cycle may leave behind, on average, before the soak fails.
LEAK_BYTES_PER_CYCLE = 64


def per_cycle(soak):
    """Server RSS growth over a soak, in bytes per cycle."""
    return (soak["rss_after_kib"] - soak["rss_before_kib"]) * 1024 / soak["cycles"]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ratio(value, base, lower_is_better=False):
    if not base or not value:
        return "—"
    return f"{value / base:.2f}×"


def client_cpu(r):
    """The load client's own CPU over the run, flagged where it is the ceiling."""
    pct = r.get("client_cpu_pct")
    if pct is None:
        return "—"
    return f"{pct:.0f}%" + (" ⚠ client-bound" if pct >= 90 else "")


def main():
    path, mode = sys.argv[1], sys.argv[2]
    rows = [json.loads(line) for line in open(path) if line.strip()]
    failures = [r for r in rows if r["workload"] == "failed"]
    if mode == "smoke" and failures:
        sys.exit(f"benchmark runs failed: {[r['command'] for r in failures]}")
    if mode == "smoke":
        bad = [r for r in rows if r["workload"] == "W1" and r["delivered"] != r["expected"]]
        # Pulse resumes without loss; the servers that cannot resume lose what a break misses.
        bad += [r for r in rows if r["workload"] == "W4" and r["kind"] == "pulse"
                and (r["delivered"] != r["expected"] or r["out_of_order"])]
        if bad or len(rows) < 32:
            sys.exit(f"smoke run incomplete: {len(rows)} results, undelivered: {bad}")
    for r in rows:
        if r["workload"] == "soak":
            after = r["after"]
            leaks = {k: after[k] for k in ("sessions", "channels", "topics", "pending_requests") if after[k]}
            if leaks or after["tasks"] > r["before"]["tasks"]:
                sys.exit(f"churn soak left things behind: {after} (before: {r['before']})")
            # The heap's high-water mark moves by up to ~1.5 MB between runs of the same
            # server (how many sessions are alive at once peaks differently); a leak
            # grows with the cycles, so the gate is bytes per cycle over many cycles.
            if mode == "full" and per_cycle(r) > LEAK_BYTES_PER_CYCLE:
                sys.exit(f"churn soak: server RSS grew {per_cycle(r):.0f} bytes per cycle ({r['rss_change']:.1%})")
    repeats = [r for r in rows if r.get("repeat")]
    rows = [r for r in rows if not r.get("repeat")]
    two_nodes = [r for r in rows if r["workload"] == "W1" and r.get("nodes", 1) > 1]
    rows = [r for r in rows if r.get("nodes", 1) == 1]
    by = lambda w: sorted((r for r in rows if r["workload"] == w), key=lambda r: ORDER.index(r["kind"]))
    out = []
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    out.append("# Benchmarks\n")
    out.append(
        f"Measured {datetime.date.today().isoformat()} at commit `{commit}` on {cpu_model()}, "
        f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores, "
        f"Linux {platform.release()}. Server pinned to core 0, load client to core 1 (`taskset`); "
        "release builds; every server driven by the same client (`bench-load`, tokio-tungstenite), "
        "each workload against a fresh server process. Reproduce with `bench/run.sh`.\n"
    )
    out.append("Ratios are against the raw tokio-tungstenite server measured in the same run. Its writer "
               "sends every frame queued for a connection in one write, as Pulse's does: it is the floor "
               "here. \"raw, a write per frame\" is the same server writing and flushing each frame on "
               "its own, as the naive server does (`SinkExt::send` per frame): the W1 target is set "
               "against it.\n")

    out.append("## W1 fan-out: one publisher, N subscribed sessions, ~100-byte payloads\n")
    out.append("The publisher keeps at most 16 messages ahead of full delivery. Latency is from "
               "the publisher's send to each subscriber's receipt.\n")
    out.append("The last column is the load client's own CPU (of the one core it runs on): near "
               "100%, the row shows the client's ceiling rather than the server's.\n")
    out.append("Made by `bench-server KIND 0` (Socket.IO: `node bench/socketio/server.mjs 0`) and "
               "`bench-load KIND PORT fanout N MESSAGES SERVER_PID`.\n")
    out.append("| server | sessions | deliveries/s | vs raw | server CPU per delivery | vs raw | p50 | p99 | p99 vs raw | delivered | load client CPU |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sorted({r["sessions"] for r in by("W1")}):
        group = [r for r in by("W1") if r["sessions"] == n]
        raw = next((r for r in group if r["kind"] == RAW), None)
        for r in group:
            out.append(
                f"| {r['kind']} | {n:,} | {r['deliveries_per_s']:,} | {ratio(r['deliveries_per_s'], raw and raw['deliveries_per_s'])} "
                f"| {r['server_ns_per_delivery']:,} ns | {ratio(r['server_ns_per_delivery'], raw and raw['server_ns_per_delivery'])} "
                f"| {r['p50_us'] / 1000:.1f} ms | {r['p99_us'] / 1000:.1f} ms | {ratio(r['p99_us'], raw and raw['p99_us'])} "
                f"| {r['delivered']:,}/{r['expected']:,} | {client_cpu(r)} |"
            )
    out.append("")

    kib = lambda v: "—" if v is None else f"{v / 1024:.1f} KiB"
    out.append("## W2 idle footprint: N idle sessions (Pulse: each with one open channel)\n")
    out.append("Made by `bench-load KIND PORT idle N SERVER_PID` against a fresh server. Per session is the "
               "growth of the server's resident memory (`VmRSS`) over N; anonymous is the part of it that "
               "is not file pages (`RssAnon`: the heap and stacks, without the binary's code paged in by "
               "the first connections).\n")
    out.append("| server | sessions | server RSS before → after | per session | vs raw | anonymous per session | time to connect all |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    w2raw = {r["sessions"]: r for r in by("W2") if r["kind"] == RAW}
    for r in sorted(by("W2"), key=lambda r: (r["sessions"], ORDER.index(r["kind"]))):
        raw = w2raw.get(r["sessions"])
        out.append(
            f"| {r['kind']} | {r['sessions']:,} | {r['rss_before_kib'] / 1024:.1f} → {r['rss_after_kib'] / 1024:.1f} MiB "
            f"| {r['bytes_per_session'] / 1024:.1f} KiB | {ratio(r['bytes_per_session'], raw and raw['bytes_per_session'])} "
            f"| {kib(r.get('anon_bytes_per_session'))} | {r['connect_s']:.1f} s |"
        )
    out.append("")

    released = by("W2-release")
    if released:
        out.append("## W2, after: the memory a crowd leaves behind\n")
        out.append("Made by `bench-load KIND PORT release N SERVER_PID`: N sessions open (as in W2), then all closed "
                   "by their clients; the server's RSS is read every 5 s for the minute after the last one ended. "
                   "Kept is how much of the crowd's growth the process still holds then (Pulse gives memory back once "
                   "its connections and sessions have halved: `server/memory.rs`).\n")
        out.append("| server | sessions | RSS before → at the peak → at the end of the wait | wait | kept | RSS every 5 s after (MiB) |")
        out.append("|---|---:|---:|---:|---:|---|")
        for r in sorted(released, key=lambda r: ORDER.index(r["kind"])):
            samples = ", ".join(f"{v / 1024:.0f}" for v in r["rss_every_5s_kib"])
            out.append(
                f"| {r['kind']} | {r['sessions']:,} | {r['rss_before_kib'] / 1024:.1f} → {r['rss_peak_kib'] / 1024:.1f} → "
                f"{r['rss_after_kib'] / 1024:.1f} MiB | {r.get('seconds', 60)} s | {r['kept']:.1%} | {samples} |"
            )
        out.append("")

    sizes = sorted({r["sessions"] for r in by("W1")} | {r["sessions"] for r in by("W2")})
    if len(sizes) > 2:
        out.append("## Scale: how Pulse's costs grow with N\n")
        out.append("Server CPU per delivery (W1) and memory per idle session (W2) at each N, beside the raw servers'.\n")
        out.append("| sessions | Pulse CPU per delivery | raw | Pulse vs raw | raw, a write per frame | Pulse vs it | Pulse per idle session | raw | Pulse vs raw |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        w1 = {(r["kind"], r["sessions"]): r for r in by("W1")}
        w2 = {(r["kind"], r["sessions"]): r for r in by("W2")}
        for n in sizes:
            p1, r1, f1 = w1.get(("pulse", n)), w1.get((RAW, n)), w1.get((PER_FRAME, n))
            p2, r2 = w2.get(("pulse", n)), w2.get((RAW, n))
            cell = lambda r, key, f: f(r[key]) if r else "—"
            out.append(
                f"| {n:,} | {cell(p1, 'server_ns_per_delivery', lambda v: f'{v:,} ns')} | {cell(r1, 'server_ns_per_delivery', lambda v: f'{v:,} ns')} "
                f"| {ratio(p1 and p1['server_ns_per_delivery'], r1 and r1['server_ns_per_delivery'])} "
                f"| {cell(f1, 'server_ns_per_delivery', lambda v: f'{v:,} ns')} "
                f"| {ratio(p1 and p1['server_ns_per_delivery'], f1 and f1['server_ns_per_delivery'])} "
                f"| {cell(p2, 'bytes_per_session', lambda v: f'{v / 1024:.1f} KiB')} | {cell(r2, 'bytes_per_session', lambda v: f'{v / 1024:.1f} KiB')} "
                f"| {ratio(p2 and p2['bytes_per_session'], r2 and r2['bytes_per_session'])} |"
            )
        out.append("")

    out.append("## W3 request/answer: client → server request, answer back\n")
    out.append("Raw: an echo; Pulse: a `request` frame and its `answer`; Socket.IO: an event with an ack. "
               "Each server is run in turn (in the order of the table), then again; a row gives "
               "the median of its runs and, in brackets, the lowest and highest. The ratio is of the medians. "
               "Made by `bench-load KIND PORT echo CONCURRENCY ROUND_TRIPS_EACH`.\n")
    out.append("| server | concurrency | runs | round trips/s | p50 | p50 vs raw | p99 | load client CPU |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    w3 = {}
    for c in sorted({r["concurrency"] for r in by("W3")}):
        runs = {}
        for r in by("W3"):
            if r["concurrency"] == c:
                runs.setdefault(r["kind"], []).append(r)
        w3[c] = runs
        med = lambda rs, key: statistics.median(r[key] for r in rs)
        raw_p50 = med(runs[RAW], "p50_us") if RAW in runs else None
        for kind, rs in runs.items():
            p50s = [r["p50_us"] for r in rs]
            out.append(
                f"| {kind} | {c} | {len(rs)} | {med(rs, 'round_trips_per_s'):,.0f} "
                f"| {med(rs, 'p50_us'):.0f} µs [{min(p50s)}–{max(p50s)}] | {ratio(med(rs, 'p50_us'), raw_p50)} "
                f"| {med(rs, 'p99_us'):.0f} µs | {client_cpu(max(rs, key=lambda r: r.get('client_cpu_pct', 0)))} |"
            )
    out.append("")

    w1_runs = lambda kind, n: [r for r in by("W1") + repeats if r["kind"] == kind and r["sessions"] == n]
    if two_nodes:
        out.append("## Two nodes: W1 through a Redis backplane\n")
        out.append("Two server processes and one `redis-server` (no persistence), all on the server core; the "
                   "publisher on node 1, the subscribers split over both nodes. Server CPU is summed over both "
                   "nodes and Redis. Pulse uses its `RedisBackplane`, socketioxide `socketioxide-redis`, Socket.IO "
                   "`@socket.io/redis-adapter`. Rows are medians of the rounds (servers in turn); the baseline "
                   "is single-node Pulse at the same size in this run (W1 above and its repeats). Made by "
                   "`bench-server KIND 0 redis://…` twice (Socket.IO: `node bench/socketio/server.mjs 0 redis://…`) "
                   "and `bench-load KIND PORT1,PORT2 fanout N MESSAGES PID1,PID2,REDIS_PID`.\n")
        out.append("| server | nodes | sessions | runs | deliveries/s | vs single-node Pulse | server CPU per delivery | vs single-node Pulse | p50 | p99 | p99 vs single-node Pulse | delivered | load client CPU |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        med = lambda rs, key: statistics.median(r[key] for r in rs)
        for n in sorted({r["sessions"] for r in two_nodes}):
            base = w1_runs("pulse", n)
            groups = [("pulse", base, 1)] + [(k, [r for r in two_nodes if r["kind"] == k and r["sessions"] == n], 2) for k in ORDER]
            for kind, rs, nodes in groups:
                if not rs:
                    continue
                b = (lambda key: med(base, key)) if base else (lambda key: None)
                out.append(
                    f"| {kind} | {nodes} | {n:,} | {len(rs)} | {med(rs, 'deliveries_per_s'):,.0f} | {ratio(med(rs, 'deliveries_per_s'), b('deliveries_per_s'))} "
                    f"| {med(rs, 'server_ns_per_delivery'):,.0f} ns | {ratio(med(rs, 'server_ns_per_delivery'), b('server_ns_per_delivery'))} "
                    f"| {med(rs, 'p50_us') / 1000:.1f} ms | {med(rs, 'p99_us') / 1000:.1f} ms | {ratio(med(rs, 'p99_us'), b('p99_us'))} "
                    f"| {sum(r['delivered'] for r in rs):,}/{sum(r['expected'] for r in rs):,} | {client_cpu(max(rs, key=lambda r: r.get('client_cpu_pct', 0)))} |"
                )
        out.append("")
    w4 = by("W4")
    if w4:
        out.append("## W4 jitter: connections that break while messages flow\n")
        out.append("One publisher sends a message every 5 ms; each subscriber drops its connection (no close "
                   "frame) after 30–230 messages, stays away 0–20 ms and reconnects asking for what it missed: "
                   "Pulse resumes its session (`resume` and `last_seq`), Socket.IO (Node) runs with connection "
                   "state recovery. The raw servers and socketioxide have no way to resume: their subscribers "
                   "join again and lose what was sent meanwhile. Replay latency is from the start of a "
                   "reconnection to the first missed message's arrival. Rows sum the rounds (latencies: the "
                   "median of the rounds'). Made by `bench-load KIND PORT jitter N MESSAGES` (Socket.IO: "
                   "`node bench/socketio/server.mjs 0 recover`).\n")
        out.append("| server | runs | sessions | messages | delivered | in order | reconnections recovered | replay p50 | replay p99 |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for kind in ORDER:
            rs = [r for r in w4 if r["kind"] == kind]
            if not rs:
                continue
            delivered, expected = sum(r["delivered"] for r in rs), sum(r["expected"] for r in rs)
            sessions = sum(r["sessions"] for r in rs)
            replays = [r for r in rs if r["replays"]]
            lat = lambda key: f"{statistics.median(r[key] for r in replays) / 1000:.2f} ms" if replays else "—"
            out.append(
                f"| {kind} | {len(rs)} | {rs[0]['sessions']:,} | {rs[0]['messages']:,} | {delivered / expected:.3%} ({delivered:,}/{expected:,}) "
                f"| {sum(r['sessions_in_order'] for r in rs)}/{sessions} sessions | {sum(r['recovered'] for r in rs):,}/{sum(r['reconnects'] for r in rs):,} "
                f"| {lat('replay_p50_us')} | {lat('replay_p99_us')} |"
            )
        out.append("")

    out.append("## Targets\n")
    out.append("The performance issue's targets, against the baselines of this run.\n")
    out.append("| target | measured | met |")
    out.append("|---|---|---|")
    def target(name, value, limit, fmt):
        if value is None:
            out.append(f"| {name} | not measured in this run | — |")
        else:
            out.append(f"| {name} | {fmt(value)} | {'yes' if value <= limit else 'no'} |")
    w1 = {(r["kind"], r["sessions"]): r for r in by("W1")}
    big = 5000 if ("pulse", 5000) in w1 else max((n for (_, n) in w1), default=None)
    runs_at = lambda kind: [r["server_ns_per_delivery"] for r in by("W1") + repeats
                            if r["kind"] == kind and r["sessions"] == big and r["server_ns_per_delivery"]]
    pulse_runs, raw_runs, per_frame_runs = runs_at("pulse"), runs_at(RAW), runs_at(PER_FRAME)
    cpu = None
    if pulse_runs and per_frame_runs:
        cpu = statistics.median(pulse_runs) / statistics.median(per_frame_runs)
    batched = (f"; against the raw server that writes in batches too, {statistics.median(pulse_runs) / statistics.median(raw_runs):.2f}× "
               f"(raw {min(raw_runs):,}–{max(raw_runs):,} ns)") if pulse_runs and raw_runs else ""
    spread = lambda v: (f"{v:.2f}× (medians of {len(pulse_runs)} runs each; Pulse {min(pulse_runs):,}–{max(pulse_runs):,} ns, "
                        f"a write per frame {min(per_frame_runs):,}–{max(per_frame_runs):,} ns){batched}")
    target(f"W1 server CPU per delivery ≤ 0.7× the raw per-frame server at {big or 0:,} sessions", cpu, 0.7, spread)
    for r in [r for r in released if r["kind"] == "pulse"]:
        target(f"W2 after: {r.get('seconds', 60)} s after {r['sessions']:,} sessions end, < 10% of their growth kept", r["kept"], 0.1,
               lambda v: f"{v:.1%}")
    pulse_w2 = {r["sessions"]: r for r in by("W2") if r["kind"] == "pulse"}
    for n in sorted(pulse_w2):
        target(f"W2 ≤ 8 KiB per idle session (one open channel) at {n:,}", pulse_w2[n]["bytes_per_session"] / 1024, 8.0, lambda v: f"{v:.1f} KiB")
    for c, runs in w3.items():
        value = None
        if "pulse" in runs and RAW in runs and statistics.median(r["p50_us"] for r in runs[RAW]):
            value = statistics.median(r["p50_us"] for r in runs["pulse"]) / statistics.median(r["p50_us"] for r in runs[RAW])
        target(f"W3 p50 ≤ 1.2× raw at concurrency {c}", value, 1.2, lambda v: f"{v:.2f}×")
    top = max(sizes, default=0)
    if top < 10000:
        out.append("| W1 and W2 at 10,000 and 20,000 sessions | not measured in this run | — |")
    if two_nodes:
        n = max(r["sessions"] for r in two_nodes)
        med = lambda rs, key: statistics.median(r[key] for r in rs) if rs else None
        pulse2 = [r for r in two_nodes if r["kind"] == "pulse" and r["sessions"] == n]
        parts = []
        for kind, label in [("pulse", "single-node Pulse"), ("socketioxide", "socketioxide + Redis"), ("Socket.IO (Node)", "Socket.IO + Redis")]:
            other = w1_runs("pulse", n) if kind == "pulse" else [r for r in two_nodes if r["kind"] == kind and r["sessions"] == n]
            if pulse2 and other:
                parts.append(f"{ratio(med(pulse2, 'deliveries_per_s'), med(other, 'deliveries_per_s'))} the deliveries/s and "
                             f"{ratio(med(pulse2, 'p99_us'), med(other, 'p99_us'))} the p99 of {label}")
        lossless = pulse2 and all(r["delivered"] == r["expected"] for r in pulse2)
        out.append(f"| Two nodes through Redis at {n:,} sessions, beside single-node Pulse, socketioxide and Socket.IO "
                   f"with their Redis adapters | Pulse on two nodes: {'; '.join(parts) or '—'} | "
                   f"{'measured, all delivered' if lossless else 'no: not all delivered'} |")
    else:
        out.append("| Two nodes through Redis | not measured in this run | — |")
    pulse4 = [r for r in w4 if r["kind"] == "pulse"]
    if pulse4:
        io4 = [r for r in w4 if r["kind"] == "Socket.IO (Node)"]
        whole = all(r["delivered"] == r["expected"] and not r["out_of_order"] for r in pulse4)
        p50 = lambda rs: statistics.median(r["replay_p50_us"] for r in rs if r["replays"]) if any(r["replays"] for r in rs) else None
        versus = f"; replay p50 {ratio(p50(pulse4), p50(io4))} Socket.IO's" if io4 and p50(pulse4) and p50(io4) else ""
        out.append(f"| W4 jitter: every message once, in order, after breaks, beside Socket.IO recovery "
                   f"| Pulse {sum(r['delivered'] for r in pulse4) / sum(r['expected'] for r in pulse4):.3%} delivered, "
                   f"{'in order' if whole else 'not all in order'}{versus} | {'yes' if whole else 'no'} |")
    else:
        out.append("| W4 jitter | not measured in this run | — |")
    out.append("")
    soaks = [r for r in rows if r["workload"] == "soak"]
    if soaks:
        out.append("## Churn soak: connect, open a channel, one request, leave — over and over\n")
        out.append(f"A leak grows with the cycles: the run fails above {LEAK_BYTES_PER_CYCLE} bytes of server RSS per cycle, "
                   "or if anything is left. Made by `bench-load pulse PORT soak CYCLES CONCURRENCY SERVER_PID` "
                   "(after a warm-up of a fifth of the cycles).\n")
        out.append("| cycles | concurrent clients | cycles/s | server RSS before → after | change | per cycle | left after (sessions / channels / topics / pending / tasks) |")
        out.append("|---:|---:|---:|---:|---:|---:|---|")
        for r in soaks:
            a, b = r["after"], r["before"]
            out.append(
                f"| {r['cycles']:,} | {r['concurrency']} | {r['cycles_per_s']:,} | {r['rss_before_kib'] / 1024:.1f} → {r['rss_after_kib'] / 1024:.1f} MiB "
                f"| {r['rss_change']:+.1%} | {per_cycle(r):+.0f} B | {a['sessions']} / {a['channels']} / {a['topics']} / {a['pending_requests']} / {a['tasks']} (tasks before: {b['tasks']}) |"
            )
        out.append("")
    for r in (r for r in rows if r["workload"] == "pages"):
        w, wo = r["with_first_paint"], r["without_first_paint"]
        out.append("## Pages: the first paint over HTTP, and links over the socket\n")
        out.append(f"The chat in Debian's headless Chromium against the release chat server, median of {r['runs']} "
                   f"(each in a fresh browser context, nothing cached), a room with {r['messages']} messages. \"Shown\" "
                   "is when the page holds the room's messages (a `MutationObserver` installed before the page's "
                   "first byte), not any paint. Without the first paint is how every page came before: the same "
                   "server and bundle with an `index.html` that has no `data-pulse-root` element, so the messages "
                   "come after the bundle and the socket's `hello`. Server CPU is its utime+stime over "
                   f"{r['requests']} requests of the page, each from an address of its own (`X-Forwarded-For`), "
                   "at the kernel's 10 ms tick. Made by `node bench/pages.mjs CHAT ASSETS RUNS RESULTS` (in `bench/run.sh`).\n")
        out.append("| | messages shown | HTML | server CPU per request |")
        out.append("|---|---:|---:|---:|")
        for label, m in (("without the first paint", wo), ("with the first paint", w)):
            out.append(f"| {label} | {m['messages_shown_ms']:.1f} ms | {m['html_bytes']:,} B | {m['cpu_ms_per_request']:.2f} ms |")
        speedup = wo["messages_shown_ms"] / w["messages_shown_ms"] if w["messages_shown_ms"] else float("nan")
        out.append(f"\nThe room's messages show {speedup:.1f}× sooner; the page costs "
                   f"{w['cpu_ms_per_request'] - wo['cpu_ms_per_request']:+.2f} ms of server CPU more (a session, a render, "
                   "its HTML and JSON), and its session waits for the tab's connection, which continues it.\n")
        out.append("| from one room to another | shown after |")
        out.append("|---|---:|")
        out.append(f"| a link followed over the socket (`navigate`, a patch back) | {r['clickMs']:.1f} ms |")
        out.append(f"| a full load of the page (rendered by the server) | {r['loadMs']:.1f} ms |")
        out.append("")
    if failures:
        out.append("## Runs that failed\n")
        out.append("These runs ended with an error (the load client's output is in the run's log); their rows are missing above.\n")
        for r in failures:
            out.append(f"- `{r['command']}`")
        out.append("")
    try:
        with open("bench/analysis.md") as f:
            out.append(f.read())
    except OSError:
        pass
    print("\n".join(out))


if __name__ == "__main__":
    main()
