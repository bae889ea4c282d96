// Bundles the chat client into dist/app.js, which the Rust server serves.
import { build } from "esbuild";

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
