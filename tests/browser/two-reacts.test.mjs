// <PulseRoot> with two copies of React in the page, in headless Chromium: the app's
// react-dom renders, but @pulse-rs/client's `react` is bundled from another folder (as a
// `file:` install of the package makes a bundler do). Without the check the page is
// blank and the console says "Cannot read properties of null (reading 'useMemo')"; with
// it, the page and the console say what happened and what to do.
//
//   node --test two-reacts.test.mjs        (after `npm run build -w @pulse-rs/client`)

import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";

const root = fileURLToPath(new URL("../..", import.meta.url));
const clientDist = join(root, "pulse-client-gen/ts/dist");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const work = mkdtempSync(join(tmpdir(), "pulse-two-reacts-"));

// The app: PulseRoot, aimed at a port where nothing listens, with a fallback that shows
// once PulseRoot's own hooks have run.
const app = `
import { createElement } from "react";
import { createRoot } from "react-dom/client";
import { PulseRoot } from "@pulse-rs/client";
createRoot(document.getElementById("root")).render(
  createElement(PulseRoot, { components: {}, options: { url: "ws://127.0.0.1:9/ws?v=1" }, fallback: "waiting for the server" }),
);
`;

/** Bundles the app into `dir`/app.js; with `secondReact`, the package's `react` comes
 * from a copy of React in another folder. */
async function bundle(dir, secondReact) {
  writeFileSync(join(dir, "main.js"), app);
  writeFileSync(join(dir, "index.html"), '<!doctype html><div id="root"></div><script src="app.js"></script>');
  const copy = join(work, "elsewhere/node_modules/react");
  if (secondReact) cpSync(join(root, "node_modules/react"), copy, { recursive: true });
  const fromPackage = {
    name: "react-from-the-package-folder",
    setup(b) {
      b.onResolve({ filter: /^react(\/.*)?$/ }, async (args) => {
        if (!secondReact || !args.importer.startsWith(clientDist) || args.pluginData === "done") return undefined;
        return b.resolve(args.path, { resolveDir: join(copy, ".."), kind: args.kind, pluginData: "done" });
      });
    },
  };
  await build({
    entryPoints: [join(dir, "main.js")],
    bundle: true,
    format: "iife",
    outfile: join(dir, "app.js"),
    nodePaths: [join(root, "node_modules")],
    define: { "process.env.NODE_ENV": '"production"' },
    plugins: [fromPackage],
    logLevel: "error",
  });
}

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath: chromiumPath });
});
after(async () => {
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Opens the bundle in `dir`; gives the page and the console's errors. */
async function open(dir) {
  const page = await browser.newPage();
  const errors = [];
  page.on("console", (message) => message.type() === "error" && errors.push(message.text()));
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.goto(`file://${join(dir, "index.html")}`);
  return { page, errors };
}

test("a second copy of React is reported in the page and the console", async () => {
  const dir = mkdtempSync(join(work, "two-"));
  await bundle(dir, true);
  const { page, errors } = await open(dir);
  await page.waitForFunction(() => document.body.textContent.includes("two copies of React"), null, { timeout: 10_000 });
  const text = await page.textContent("#root");
  assert.match(text, /^pulse: two copies of React are loaded/);
  assert.match(text, /dedupe: \["react", "react-dom"\]/);
  assert.equal(errors.filter((e) => e.includes("two copies of React")).length, 1, errors.join("\n"));
  assert.ok(!errors.some((e) => e.includes("reading 'useMemo'")), errors.join("\n"));
  await page.close();
});

test("with one React, PulseRoot renders as usual", async () => {
  const dir = mkdtempSync(join(work, "one-"));
  await bundle(dir, false);
  const { page, errors } = await open(dir);
  await page.waitForFunction(() => document.body.textContent.includes("waiting for the server"), null, { timeout: 10_000 });
  assert.ok(!errors.some((e) => e.includes("two copies of React")), errors.join("\n"));
  await page.close();
});
