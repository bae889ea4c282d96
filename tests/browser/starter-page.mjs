// Drives the starter's page in headless Chromium (Debian's, through playwright-core):
// two tabs, the client component's +1 and −1 and the server component's Reset, each
// seen in both tabs, in the server-rendered line and the client component alike; the
// second page and back.
//
//   node tests/browser/starter-page.mjs http://127.0.0.1:3000/ [--during '<command>']
//
// With --during, the first tab stays open while the shell command runs (the dev loop's
// test edits a Rust file there, and the server restarts), then must work again by itself.
// Used by scripts/getting-started-test.sh, on the production build and through Vite's
// dev server. Exits non-zero, saying what it waited for, if the page does not work.

import { execSync } from "node:child_process";
import { chromium } from "playwright-core";

const url = process.argv[2];
const during = process.argv[3] === "--during" ? process.argv[4] : null;
if (!url || (process.argv[3] && !during)) {
  console.error("usage: node starter-page.mjs <url of the starter's page> [--during '<command>']");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
const errors = [];

async function openTab(name) {
  const page = await (await browser.newContext()).newPage();
  page.on("pageerror", (error) => errors.push(`[${name}] ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`[${name}] console: ${message.text()}`);
  });
  await page.goto(url);
  await page.locator(".client-count").waitFor({ timeout: 15_000 });
  return page;
}

/** Waits until both counts of `page` show `count`. */
async function expectCount(page, count, what) {
  try {
    await page.locator(".server-count", { hasText: `the count is ${count}.` }).waitFor({ timeout: 5_000 });
    await page.locator(".client-count", { hasText: new RegExp(`^\\s*${count}\\s*$`) }).waitFor({ timeout: 5_000 });
  } catch (error) {
    const shown = await page.locator("body").innerText();
    throw new Error(`${what}: expected the count ${count}, the page shows:\n${shown}\n${error.message}`);
  }
}

try {
  const a = await openTab("a");
  const b = await openTab("b");
  // Start from a known count (the server may have served other tabs before).
  await b.getByRole("button", { name: /Reset/ }).click();
  await expectCount(a, 0, "after Reset in tab b, tab a");
  await a.getByRole("button", { name: "+1" }).click();
  await a.getByRole("button", { name: "+1" }).click();
  await b.getByRole("button", { name: "−1" }).click();
  for (const [page, name] of [[a, "tab a"], [b, "tab b"]]) await expectCount(page, 1, name);
  // A tab that opens now gets the count at once (its first state).
  const c = await openTab("c");
  await expectCount(c, 1, "a tab opened later");
  // The second page, by the client component's link (a route tsc checked), and back by
  // the server-rendered one.
  await c.getByRole("link", { name: "What is this?" }).click();
  await c.locator(".about").waitFor({ timeout: 5_000 });
  if (!new URL(c.url()).pathname.endsWith("/about")) throw new Error(`the About page is at ${c.url()}`);
  await c.getByRole("link", { name: "Counter" }).click();
  await expectCount(c, 1, "back on the counter page");
  if (errors.length > 0) throw new Error(`the page reported errors:\n${errors.join("\n")}`);
  console.log(`starter page at ${url}: counts agree in three tabs; the About page and back`);
  if (during) {
    execSync(during, { stdio: "inherit" });
    // The tab that stayed open reconnects to the new server by itself and works again
    // (the new process starts its count afresh). Its errors while the server was down
    // (a failed connection) are expected.
    errors.length = 0;
    await a.getByRole("button", { name: /Reset/ }).click({ timeout: 60_000 });
    await expectCount(a, 0, "the tab left open, after the restart");
    await a.getByRole("button", { name: "+1" }).click();
    const d = await openTab("d");
    for (const [page, name] of [[a, "the tab left open"], [d, "a tab opened after the restart"]]) await expectCount(page, 1, name);
    console.log(`starter page at ${url}: the open tab came back by itself after the server restarted`);
  }
} catch (error) {
  console.error(error.message);
  process.exitCode = 1;
} finally {
  await browser.close();
}
