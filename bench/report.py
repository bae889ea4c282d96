#!/usr/bin/env python3
"""Turns the load client's JSON lines into the tables of docs/benchmarks.md, with each
result's ratio to the raw tokio-tungstenite baseline measured in the same run. In smoke
mode it checks every run delivered everything and fails otherwise."""

import datetime
import json
import platform
import subprocess
import sys

RAW = "raw tokio-tungstenite"
ORDER = [RAW, "pulse", "socketioxide", "Socket.IO (Node)"]


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


def main():
    path, mode = sys.argv[1], sys.argv[2]
    rows = [json.loads(line) for line in open(path) if line.strip()]
    if mode == "smoke":
        bad = [r for r in rows if r["workload"] == "W1" and r["delivered"] != r["expected"]]
        if bad or len(rows) < 17:
            sys.exit(f"smoke run incomplete: {len(rows)} results, undelivered: {bad}")
    for r in rows:
        if r["workload"] == "soak":
            after = r["after"]
            leaks = {k: after[k] for k in ("sessions", "channels", "topics", "pending_requests") if after[k]}
            if leaks or after["tasks"] > r["before"]["tasks"]:
                sys.exit(f"churn soak left things behind: {after} (before: {r['before']})")
            if mode == "full" and r["rss_change"] > 0.10:
                sys.exit(f"churn soak: server RSS grew {r['rss_change']:.1%}")
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
    out.append("Ratios are against the raw tokio-tungstenite server measured in the same run.\n")

    out.append("## W1 fan-out: one publisher, N subscribed sessions, ~100-byte payloads\n")
    out.append("The publisher keeps at most 16 messages ahead of full delivery. Latency is from "
               "the publisher's send to each subscriber's receipt.\n")
    out.append("| server | sessions | deliveries/s | vs raw | server CPU per delivery | vs raw | p50 | p99 | p99 vs raw | delivered |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sorted({r["sessions"] for r in by("W1")}):
        group = [r for r in by("W1") if r["sessions"] == n]
        raw = next((r for r in group if r["kind"] == RAW), None)
        for r in group:
            out.append(
                f"| {r['kind']} | {n:,} | {r['deliveries_per_s']:,} | {ratio(r['deliveries_per_s'], raw and raw['deliveries_per_s'])} "
                f"| {r['server_ns_per_delivery']:,} ns | {ratio(r['server_ns_per_delivery'], raw and raw['server_ns_per_delivery'])} "
                f"| {r['p50_us'] / 1000:.1f} ms | {r['p99_us'] / 1000:.1f} ms | {ratio(r['p99_us'], raw and raw['p99_us'])} "
                f"| {r['delivered']:,}/{r['expected']:,} |"
            )
    out.append("")

    out.append("## W2 idle footprint: N idle sessions (Pulse: each with one open channel)\n")
    out.append("| server | sessions | server RSS before → after | per session | time to connect all |")
    out.append("|---|---:|---:|---:|---:|")
    for r in by("W2"):
        out.append(
            f"| {r['kind']} | {r['sessions']:,} | {r['rss_before_kib'] / 1024:.1f} → {r['rss_after_kib'] / 1024:.1f} MiB "
            f"| {r['bytes_per_session'] / 1024:.1f} KiB | {r['connect_s']:.1f} s |"
        )
    out.append("")

    out.append("## W3 request/answer: client → server request, answer back\n")
    out.append("Raw: an echo; Pulse: a `request` frame and its `answer`; Socket.IO: an event with an ack.\n")
    out.append("| server | concurrency | round trips/s | p50 | p50 vs raw | p99 |")
    out.append("|---|---:|---:|---:|---:|---:|")
    for c in sorted({r["concurrency"] for r in by("W3")}):
        group = [r for r in by("W3") if r["concurrency"] == c]
        raw = next((r for r in group if r["kind"] == RAW), None)
        for r in group:
            out.append(
                f"| {r['kind']} | {c} | {r['round_trips_per_s']:,} | {r['p50_us']} µs "
                f"| {ratio(r['p50_us'], raw and raw['p50_us'])} | {r['p99_us']} µs |"
            )
    out.append("")
    soaks = [r for r in rows if r["workload"] == "soak"]
    if soaks:
        out.append("## Churn soak: connect, open a channel, one request, leave — over and over\n")
        out.append("| cycles | concurrent clients | cycles/s | server RSS before → after | change | left after (sessions / channels / topics / pending / tasks) |")
        out.append("|---:|---:|---:|---:|---:|---|")
        for r in soaks:
            a, b = r["after"], r["before"]
            out.append(
                f"| {r['cycles']:,} | {r['concurrency']} | {r['cycles_per_s']:,} | {r['rss_before_kib'] / 1024:.1f} → {r['rss_after_kib'] / 1024:.1f} MiB "
                f"| {r['rss_change']:+.1%} | {a['sessions']} / {a['channels']} / {a['topics']} / {a['pending_requests']} / {a['tasks']} (tasks before: {b['tasks']}) |"
            )
        out.append("")
    try:
        with open("bench/analysis.md") as f:
            out.append(f.read())
    except OSError:
        pass
    print("\n".join(out))


if __name__ == "__main__":
    main()
