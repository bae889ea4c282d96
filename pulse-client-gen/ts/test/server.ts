// Starts the real Rust test server (tests/src/bin/ts-test-server.rs) as a child process.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect, createServer } from "node:net";
import { fileURLToPath } from "node:url";

const defaultBinary = fileURLToPath(new URL("../../../target/debug/ts-test-server", import.meta.url));

export interface RunningServer {
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts the server (on `port`, or any free one) and resolves once it listens. */
export function startServer(port = 0, env: Record<string, string> = {}): Promise<RunningServer> {
  const binary = process.env.PULSE_TS_SERVER ?? defaultBinary;
  if (!existsSync(binary)) {
    throw new Error(`${binary} not found: build it with \`cargo build -p pulse-tests --bin ts-test-server\``);
  }
  const child = spawn(binary, [String(port)], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  return new Promise((resolve, reject) => {
    let output = "";
    child.once("exit", (code) => reject(new Error(`ts-test-server exited with ${code}: ${output}`)));
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (\d+)/.exec(output);
      if (match?.[1]) {
        child.removeAllListeners("exit");
        resolve({
          port: Number(match[1]),
          process: child,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done();
              child.once("exit", () => done());
              child.kill("SIGKILL");
            }),
        });
      }
    });
  });
}

/** A free loopback port (for a server whose port must be known before it starts). */
export function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const free = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(free));
    });
  });
}

/** A redis-server on a free port, for the tests that run several nodes. */
export async function startRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  // It answers once it listens.
  for (let tries = 0; ; tries += 1) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.end();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (up) break;
    if (tries > 200) throw new Error("redis-server did not start (install it: apt-get install redis-server)");
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once("exit", () => done());
        child.kill("SIGKILL");
      }),
  };
}
