// `npm run dev`: the development loop. Runs the Rust server (`cargo run`, which
// rewrites src/generated/starter.ts when the declarations changed), Vite's dev
// server (http://localhost:5173, hot reload, the WebSocket proxied to the Rust server)
// and tsc in watch mode, so a type error (a misspelt event) shows while you work.
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
const children = new Set();

/** Signals a child's process group (it and what it started); gone already is fine. */
function signal(child, name) {
  try {
    process.kill(-child.pid, name);
  } catch {
    // The group has exited.
  }
}

/** Runs a command in a process group of its own, so stopping it stops its children. */
function run(command, args, options) {
  const child = spawn(command, args, { stdio: "inherit", detached: true, ...options });
  children.add(child);
  child.once("exit", () => children.delete(child));
  child.stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", resolve);
      signal(child, "SIGTERM");
    });
  return child;
}

const startServer = () => run("cargo", ["run"], { cwd: crate, env: { ...process.env, PORT: port } });
let server = startServer();
let restart = Promise.resolve();
let pending = null;

/** Restarts the server once per burst of changes (editors write in bursts), one at a time. */
function changed(file) {
  if (!file?.endsWith(".rs")) return;
  clearTimeout(pending);
  pending = setTimeout(() => {
    restart = restart
      .then(async () => {
        console.error("[dev] Rust sources changed: rebuilding and restarting the server");
        await server.stop();
        server = startServer();
      })
      .catch((error) => console.error("[dev] restarting the server failed:", error));
  }, 200);
}

// One watcher per folder of src/ (a folder's watcher sees its files replaced, as editors
// and `sed -i` do, which a recursive watcher on Linux loses track of).
const watched = new Map();
function subfolders(dir) {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch {
    return []; // removed meanwhile
  }
}
function watchTree(dir) {
  if (watched.has(dir)) return;
  try {
    const watcher = watch(dir, (_event, file) => {
      changed(file);
      subfolders(dir).forEach(watchTree);
    });
    watcher.on("error", () => {
      watcher.close();
      watched.delete(dir);
    });
    watched.set(dir, watcher);
  } catch {
    return; // removed meanwhile
  }
  subfolders(dir).forEach(watchTree);
}
watchTree(join(crate, "src"));

const client = run(process.execPath, [vite, ...process.argv.slice(2)], { env: { ...process.env, PULSE_PORT: port } });

// Vite strips types without checking them: tsc checks them as files change.
const tsc = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin/tsc");
run(process.execPath, [tsc, "--noEmit", "--watch", "--preserveWatchOutput", "-p", "tsconfig.json"], {});

// The children run in groups of their own: whatever ends this process ends them too.
process.on("exit", () => children.forEach((child) => signal(child, "SIGTERM")));
for (const name of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(name, () => process.exit(0));
client.on("exit", (code) => process.exit(code ?? 0));
