#!/usr/bin/env python3
"""A hostile client, black-box, written from docs/protocol.md: floods a Pulse server
from one address and checks that everyone else still gets in.

    scripts/flood.py HOST:PORT SERVER_PID [--connections 21000] [--processes 4]
                     [--silent 3000] [--slowloris 1000]

Phase 1: `--connections` WebSocket upgrades from 127.0.0.1, spread over `--processes`
client processes, held open; meanwhile a client from 127.0.0.2 connects every 0.5 s
and must get its `hello` within 1 s, every time.
Phase 2: `--silent` connections that send nothing and `--slowloris` connections that
send a request head one line every 10 s; each must be closed by the server within 30 s.
After each phase the server's open descriptors must return to where they started.

Prints one JSON line per phase; exits non-zero if a promise was broken. stdlib only.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import socket
import sys
import time

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def upgrade(host):
    return (
        f"GET /ws?v=1 HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n\r\n"
    ).encode()


def raise_file_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


async def connect_from(source, host, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.bind((source, 0))
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    return await asyncio.open_connection(sock=sock)


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    return head.split(b" ", 2)[1].decode()


# -- phase 1: the flood's client processes ------------------------------------------------


def flood_worker(host, port, count, hold_s, results):
    """Opens `count` upgrades from 127.0.0.1 and holds them `hold_s` seconds."""
    raise_file_limit()

    async def run():
        statuses = {}
        held = []

        async def one():
            try:
                reader, writer = await connect_from("127.0.0.1", host, port)
                writer.write(upgrade(f"{host}:{port}"))
                status = await asyncio.wait_for(read_head(reader), 30)
                statuses[status] = statuses.get(status, 0) + 1
                held.append(writer)
            except Exception as error:  # refused, reset, timed out: counted by kind
                kind = type(error).__name__
                statuses[kind] = statuses.get(kind, 0) + 1

        # 200 at a time: as fast as one process goes.
        pending = [one() for _ in range(count)]
        for start in range(0, count, 200):
            await asyncio.gather(*pending[start:start + 200])
        await asyncio.sleep(hold_s)
        for writer in held:
            writer.close()
        return statuses

    results.put(asyncio.run(run()))


async def probe(host, port):
    """A client from 127.0.0.2: seconds until its `hello` frame, or None."""
    started = time.monotonic()
    try:
        reader, writer = await connect_from("127.0.0.2", host, port)
        writer.write(upgrade(f"{host}:{port}"))
        status = await asyncio.wait_for(read_head(reader), 5)
        if status != "101":
            writer.close()
            return None
        first, second = await asyncio.wait_for(reader.readexactly(2), 5)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(await reader.readexactly(2), "big")
        payload = await asyncio.wait_for(reader.readexactly(length), 5)
        took = time.monotonic() - started
        writer.close()
        return took if b'"t":"hello"' in payload else None
    except Exception:
        return None


async def probe_while(done, host, port, every=0.5):
    times = []
    while not done.is_set():
        times.append(await probe(host, port))
        await asyncio.sleep(every)
    return times


def phase_flood(host, port, pid, connections, processes):
    fds_before = open_fds(pid)
    results = multiprocessing.Queue()
    per = connections // processes
    hold = 20
    workers = [
        multiprocessing.Process(target=flood_worker, args=(host, port, per, hold, results)) for _ in range(processes)
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()

    async def watch():
        done = asyncio.Event()
        probes = asyncio.create_task(probe_while(done, host, port))
        peak = fds_before
        while any(worker.is_alive() for worker in workers):
            peak = max(peak, open_fds(pid))
            await asyncio.sleep(0.2)
        done.set()
        return await probes, peak

    times, peak_fds = asyncio.run(watch())
    statuses = {}
    for _ in workers:
        for status, n in results.get().items():
            statuses[status] = statuses.get(status, 0) + n
    for worker in workers:
        worker.join()
    fds_after = settle_fds(pid, fds_before)
    got = [t for t in times if t is not None]
    return {
        "phase": "flood",
        "connections": per * processes,
        "processes": processes,
        "seconds": round(time.monotonic() - started, 1),
        "answers": statuses,
        "probes": len(times),
        "probes_without_hello": len(times) - len(got),
        "probe_max_ms": round(max(got) * 1000, 1) if got else None,
        "probe_median_ms": round(sorted(got)[len(got) // 2] * 1000, 1) if got else None,
        "server_fds": [fds_before, peak_fds, fds_after],
        "ok": bool(got) and len(got) == len(times) and max(got) < 1.0 and fds_after <= fds_before,
    }


# -- phase 2: silent and slowloris connections ------------------------------------------


async def closed_after(reader, started):
    """Seconds until the server closes the connection (EOF or reset)."""
    try:
        while await reader.read(4096):
            pass
    except Exception:
        pass
    return time.monotonic() - started


async def silent(host, port, started):
    reader, writer = await connect_from("127.0.0.1", host, port)
    took = await asyncio.wait_for(closed_after(reader, started), 60)
    writer.close()
    return took


async def slowloris(host, port, started):
    reader, writer = await connect_from("127.0.0.1", host, port)
    closed = asyncio.create_task(closed_after(reader, started))
    lines = [f"GET /ws?v=1 HTTP/1.1\r\n", f"Host: {host}:{port}\r\n", "Upgrade: websocket\r\n", "X-Slow: 1\r\n"] * 10
    for line in lines:
        if closed.done():
            break
        try:
            writer.write(line.encode())
            await writer.drain()
        except Exception:
            break
        await asyncio.wait([closed], timeout=10)
    took = await asyncio.wait_for(closed, 60)
    writer.close()
    return took


def phase_slow(host, port, pid, silent_count, slow_count):
    fds_before = open_fds(pid)

    async def run():
        started = time.monotonic()
        tasks = [silent(host, port, started) for _ in range(silent_count)]
        tasks += [slowloris(host, port, started) for _ in range(slow_count)]
        return await asyncio.gather(*tasks, return_exceptions=True)

    times = asyncio.run(run())
    closed = [t for t in times if isinstance(t, float)]
    fds_after = settle_fds(pid, fds_before)
    worst = max(closed) if closed else None
    return {
        "phase": "silent and slowloris",
        "silent": silent_count,
        "slowloris": slow_count,
        "closed": len(closed),
        "latest_close_s": round(worst, 1) if worst else None,
        "server_fds": [fds_before, fds_after],
        "ok": len(closed) == len(times) and worst is not None and worst <= 30 and fds_after <= fds_before,
    }


def settle_fds(pid, target, within=15):
    """The server's descriptors once back at `target` (or after `within` seconds)."""
    deadline = time.monotonic() + within
    while True:
        fds = open_fds(pid)
        if fds <= target or time.monotonic() > deadline:
            return fds
        time.sleep(0.2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target")
    parser.add_argument("pid", type=int)
    parser.add_argument("--connections", type=int, default=21000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--silent", type=int, default=3000)
    parser.add_argument("--slowloris", type=int, default=1000)
    args = parser.parse_args()
    raise_file_limit()
    host, port = args.target.rsplit(":", 1)
    port = int(port)
    ok = True
    for result in [
        phase_flood(host, port, args.pid, args.connections, args.processes),
        phase_slow(host, port, args.pid, args.silent, args.slowloris),
    ]:
        print(json.dumps(result), flush=True)
        ok &= result["ok"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
