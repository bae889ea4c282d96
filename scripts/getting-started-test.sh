#!/usr/bin/env bash
# Follows docs/getting-started.md on a fresh copy, as a reader would: runs each `sh`
# block of the page in order in an empty folder (with PULSE set to this checkout). A
# block that runs "until Ctrl-C" (the server, the dev loop, the release build) runs in
# the background, stopping at its first failing command; once it serves, the page is
# driven in headless Chromium (tests/browser/starter-page.mjs). In the dev loop a tab
# stays open while src/lib.rs is edited: the generated TypeScript must follow with no
# command run by hand, and the tab must come back by itself after the restart.
#
# Needs cargo, node/npm, python3, GNU/Linux (setsid), the npm registry, /usr/bin/chromium.
# Usage: ./scripts/getting-started-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d /tmp/pulse-getting-started.XXXXXX)
background=()
cleanup() {
  for pid in ${background[@]+"${background[@]}"}; do
    kill -TERM -- "-$pid" 2>/dev/null || true
    # Its own children (dev.mjs runs cargo and Vite in groups of their own) end with it.
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The copy builds on its own (its features differ from the workspace's), in a target
# folder of its own that later runs reuse.
export PULSE=$repo
export CARGO_TARGET_DIR=$repo/target/getting-started
# Free ports, so a server already running here does not get in the way.
free_port() { node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }
export PORT PULSE_PORT
PORT=$(free_port)
PULSE_PORT=$(free_port)

# The blocks, as a script: foreground blocks as they are, background ones through
# `in_background` (below).
steps=$work/steps.sh
python3 - "$repo/docs/getting-started.md" > "$steps" <<'PY'
import re, shlex, sys
text = open(sys.argv[1]).read()
blocks = re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M)
if not blocks:
    sys.exit("docs/getting-started.md has no sh blocks")
for i, block in enumerate(blocks, 1):
    print(f"echo '== getting-started.md, block {i}' >&2")
    if "until Ctrl-C" in block:
        print(f"in_background {shlex.quote(block)}")
    else:
        print(block)
PY

# Starts `$1` in a process group of its own, waits for the page's URL in its output,
# checks the page, and stops it.
in_background() {
  local log=$work/background-${#background[@]}.log
  # No colours: Vite colours its output when CI is set, which splits the URL.
  NO_COLOR=1 setsid bash -ec "$1" > "$log" 2>&1 &
  local pid=$!
  background+=("$pid")
  local url="" dev=false
  [[ "$1" == *"npm run dev"* ]] && dev=true
  for _ in $(seq 1 600); do
    # (and should colours come anyway, the URL is read from the text without them)
    sed 's/\x1b\[[0-9;]*m//g' "$log" > "$log.plain"
    if $dev; then
      # Both Vite and the Rust server behind it.
      if grep -q "starter on http://" "$log.plain"; then url=$(grep -o 'http://localhost:[0-9]*/' "$log.plain" | head -n 1 || true); fi
    else
      url=$(grep -o 'starter on http://[0-9.:]*' "$log.plain" | head -n 1 | sed 's/^starter on //' || true)
    fi
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "'$1' exited before serving" >&2; return 1; }
    sleep 1
  done
  [ -n "$url" ] || { cat "$log" >&2; echo "'$1' served nothing in 10 minutes" >&2; return 1; }
  echo "   serving $url" >&2
  if $dev; then
    echo "   the dev loop: a Rust declaration changes, the TypeScript follows, an open tab comes back" >&2
    cat > "$work/edit.sh" <<'EDIT'
set -euo pipefail
generated=client/src/generated/starter.ts
sed -i.orig 's|/// Adds to the count (from|/// Adds one or more to the count (from|' src/lib.rs && rm src/lib.rs.orig
for _ in $(seq 1 600); do
  grep -q "Adds one or more to the count" "$generated" && { echo "   $generated rewritten" >&2; exit 0; }
  sleep 1
done
echo "$generated was not rewritten" >&2
exit 1
EDIT
    node "$repo/tests/browser/starter-page.mjs" "$url" --during "bash $work/edit.sh" || { cat "$log" >&2; return 1; }
    sed 's/\x1b\[[0-9;]*m//g' "$log" > "$log.plain"
    # While the server rebuilt, the proxy's failures were one line, not stack traces.
    if grep -q "ECONNREFUSED\|ECONNRESET\|EPIPE" "$log.plain"; then
      cat "$log.plain" >&2; echo "the dev loop printed the proxy's connection errors" >&2; return 1
    fi
    echo "   the dev loop: a misspelt event is a type error while it runs" >&2
    sed -i.orig 's|counter.emit("add", 1)|counter.emit("ad", 1)|' client/src/Buttons.tsx
    local typed=false
    for _ in $(seq 1 120); do
      sed 's/\x1b\[[0-9;]*m//g' "$log" > "$log.plain"
      grep -q "Buttons.tsx.*error TS" "$log.plain" && { typed=true; break; }
      sleep 1
    done
    mv client/src/Buttons.tsx.orig client/src/Buttons.tsx
    $typed || { cat "$log.plain" >&2; echo "no type error shown for counter.emit(\"ad\", 1)" >&2; return 1; }
  else
    node "$repo/tests/browser/starter-page.mjs" "$url" || { cat "$log" >&2; return 1; }
  fi
  kill -TERM -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cd "$work"
set +u
# shellcheck disable=SC1090
source "$steps"
echo "getting started: every step of docs/getting-started.md works on a fresh copy"
