// `npm run dev`: the development loop. Runs the Rust server (`cargo run`, which
// rewrites src/generated/starter.ts when the declarations changed) and Vite's dev
// server (http://localhost:5173, hot reload, the WebSocket proxied to the Rust server).
// When a Rust file changes, the server is rebuilt and restarted; the browser
// reconnects, and Vite reloads what the new TypeScript module changed.
import { spawn } from "node:child_process";
import { readdirSync, watch } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const crate = fileURLToPath(new URL("..", import.meta.url));
const vite = join(dirname(createRequire(import.meta.url).resolve("vite/package.json")), "bin/vite.js");
const port = process.env.PULSE_PORT ?? "3000";

/** Runs a command in a process group of its own, so stopping it stops its children. */
function run(command, args, options) {
  const child = spawn(command, args, { stdio: "inherit", detached: true, ...options });
  child.stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", resolve);
      process.kill(-child.pid, "SIGTERM");
    });
  return child;
}

let server = run("cargo", ["run"], { cwd: crate, env: { ...process.env, PORT: port } });
let restart = Promise.resolve();
let pending = null;

/** Restarts the server once per burst of changes (editors write in bursts), one at a time. */
function changed(file) {
  if (!file?.endsWith(".rs")) return;
  clearTimeout(pending);
  pending = setTimeout(() => {
    restart = restart.then(async () => {
      console.error("[dev] Rust sources changed: rebuilding and restarting the server");
      await server.stop();
      server = run("cargo", ["run"], { cwd: crate, env: { ...process.env, PORT: port } });
    });
  }, 200);
}

// One watcher per folder of src/ (a folder's watcher sees its files replaced, as editors
// and `sed -i` do, which a recursive watcher on Linux loses track of).
const watched = new Map();
function watchTree(dir) {
  if (watched.has(dir)) return;
  watched.set(dir, watch(dir, (_event, file) => {
    changed(file);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) watchTree(join(dir, entry.name));
    }
  }));
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) watchTree(join(dir, entry.name));
  }
}
watchTree(join(crate, "src"));

const client = run(process.execPath, [vite, ...process.argv.slice(2)], { env: { ...process.env, PULSE_PORT: port } });

async function stop() {
  await Promise.all([server.stop(), client.stop()]);
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
client.on("exit", stop);
