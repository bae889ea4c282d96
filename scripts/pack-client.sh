#!/usr/bin/env bash
# Packs the npm package @pulse-rs/client (pulse-client-gen/ts) as it would be published,
# and checks the tarball:
#
#   - it is built from scratch (dist/: ES modules and .d.ts) and packed into target/npm/;
#   - it holds dist/index.js and dist/index.d.ts, and no TypeScript source (.ts other
#     than .d.ts, .tsx);
#   - react is a peer dependency, never a dependency;
#   - it installs in a fresh app next to react@19 and react-dom@19, imports under plain
#     Node ESM (PulseRoot and PulseConnection are there), and brings no React of its own.
#
# Needs node/npm and the npm registry (for the fresh app). Prints the tarball's path as
# the last line of stdout; everything else goes to stderr.
#
# Usage: ./scripts/pack-client.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
pkg_dir=pulse-client-gen/ts
out_dir=target/npm

step() { printf '\n== %s\n' "$*" >&2; }
fail() { printf 'pack-client: %s\n' "$*" >&2; exit 1; }

if [ ! -x node_modules/.bin/tsc ]; then
  step "npm packages of this checkout (first run)"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

step "build @pulse-rs/client (a clean dist/)"
rm -rf "$pkg_dir/dist"
npm run build -w @pulse-rs/client >&2

step "npm pack into $out_dir/"
mkdir -p "$out_dir"
name=$(node -p "const p = require('./$pkg_dir/package.json'); p.name.replace(/^@/, '').replace('/', '-') + '-' + p.version + '.tgz'")
rm -f "$out_dir/$name"
# npm pack runs `prepack` (the build again) and prints the tarball's name last.
packed=$(npm pack -w @pulse-rs/client --pack-destination "$out_dir" --loglevel=error | tail -n 1)
[ "$packed" = "$name" ] || fail "npm pack printed '$packed', expected '$name'"
tarball="$root/$out_dir/$name"
[ -f "$tarball" ] || fail "npm pack made no $tarball"

step "the tarball's files"
files=$(tar -tzf "$tarball")
printf '%s\n' "$files" >&2
sources=$(printf '%s\n' "$files" | grep -E '\.(ts|tsx|mts|cts)$' | grep -vE '\.d\.(ts|mts|cts)$' || true)
[ -z "$sources" ] || fail "the tarball holds TypeScript sources (only .d.ts may ship):
$sources"
for required in package/dist/index.js package/dist/index.d.ts package/package.json; do
  printf '%s\n' "$files" | grep -qxF "$required" || fail "the tarball lacks $required"
done
tests=$(printf '%s\n' "$files" | grep -E '(^|/)test/|\.test\.' || true)
[ -z "$tests" ] || fail "the tarball holds test files:
$tests"

step "react and react-dom are peer dependencies only"
tar -xzOf "$tarball" package/package.json | node -e '
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk)).on("end", () => {
    const manifest = JSON.parse(text);
    const wrong = ["react", "react-dom"].filter((dep) => manifest.dependencies?.[dep] !== undefined);
    if (wrong.length > 0) {
      console.error(`package/package.json lists ${wrong.join(", ")} under dependencies: it must be a peerDependency`);
      process.exit(1);
    }
    const missing = ["react", "react-dom"].filter((dep) => manifest.peerDependencies?.[dep] === undefined);
    if (missing.length > 0) {
      console.error(`package/package.json does not list ${missing.join(", ")} under peerDependencies`);
      process.exit(1);
    }
    console.error(`peerDependencies: ${JSON.stringify(manifest.peerDependencies)}`);
  });
' || fail "the packed package.json is wrong about react"

step "a fresh app installs it and imports it under plain Node ESM"
app=$(mktemp -d "${TMPDIR:-/tmp}/pulse-client-app.XXXXXX")
trap 'rm -rf "$app"' EXIT
(
  cd "$app"
  npm init -y >/dev/null
  npm install --no-audit --no-fund --loglevel=error "$tarball" react@19 react-dom@19 >&2
  node --input-type=module -e '
    const m = await import("@pulse-rs/client");
    const missing = ["PulseRoot", "PulseConnection", "usePulseChannel", "applyOps"].filter((name) => typeof m[name] !== "function");
    if (missing.length > 0) {
      console.error(`@pulse-rs/client lacks ${missing.join(", ")}`);
      process.exit(1);
    }
    if (m.PROTOCOL_VERSION !== 1) {
      console.error(`@pulse-rs/client: PROTOCOL_VERSION is ${m.PROTOCOL_VERSION}`);
      process.exit(1);
    }
    console.error(`imported @pulse-rs/client: ${Object.keys(m).length} exports`);
  ' || exit 1
  [ ! -e node_modules/@pulse-rs/client/node_modules/react ] || {
    echo "node_modules/@pulse-rs/client/node_modules/react exists: the package brings a second React" >&2
    exit 1
  }
) || fail "the package does not install and import cleanly in a fresh app ($app)"

echo "$tarball"
