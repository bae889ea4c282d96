// Starts the real Rust test server (tests/src/bin/ts-test-server.rs) as a child process.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const defaultBinary = fileURLToPath(new URL("../../../target/debug/ts-test-server", import.meta.url));

export interface RunningServer {
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts the server (on `port`, or any free one) and resolves once it listens. */
export function startServer(port = 0): Promise<RunningServer> {
  const binary = process.env.PULSE_TS_SERVER ?? defaultBinary;
  if (!existsSync(binary)) {
    throw new Error(`${binary} not found: build it with \`cargo build -p pulse-tests --bin ts-test-server\``);
  }
  const child = spawn(binary, [String(port)], { stdio: ["ignore", "pipe", "inherit"] });
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
              if (child.exitCode !== null) return done();
              child.once("exit", () => done());
              child.kill("SIGKILL");
            }),
        });
      }
    });
  });
}
