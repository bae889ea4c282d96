// Bundles the chat client into dist/app.js, beside the page (index.html), which the Rust
// server serves (`ServerBuilder::assets`).
import { copyFileSync, mkdirSync } from "node:fs";
import { build } from "esbuild";

mkdirSync("dist", { recursive: true });
copyFileSync("index.html", "dist/index.html");

await build({
  entryPoints: ["src/main.tsx"],
  bundle: true,
  format: "esm",
  target: "es2022",
  outfile: "dist/app.js",
  minify: true,
  sourcemap: true,
  logLevel: "info",
});
