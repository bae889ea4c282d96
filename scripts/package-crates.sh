#!/usr/bin/env bash
# Packages the three published crates as crates.io would receive them, and builds each
# package on its own (cargo's verification), the unpublished ones standing in for
# crates.io through cargo's local overlay: pulse-macros, pulse-runtime, pulse-client-gen.
#
# Usage: ./scripts/package-crates.sh [--allow-dirty]
set -euo pipefail
cd "$(dirname "$0")/.."

# cargo unpacks each package it verifies against into the overlay registry's folder
# under ~/.cargo/registry/src and reuses what is there for the same version: a package
# of an earlier checkout would then be built in place of this one's.
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/pulse-{macros,runtime,client-gen}-*
cargo package -p pulse-macros -p pulse-runtime -p pulse-client-gen "$@"
for crate in pulse-macros pulse-runtime pulse-client-gen; do
  listed=$(cargo package -l -p "$crate" "$@" 2>/dev/null)
  grep -qx "README.md" <<<"$listed" || { echo "$crate: its README.md is not in the package" >&2; exit 1; }
  if grep -E '^(tests|ts|proptest-regressions)/' <<<"$listed"; then
    echo "$crate: the files above do not belong in the package" >&2
    exit 1
  fi
done
ls -1 target/package/*.crate
