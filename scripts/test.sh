#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace (unit, conformance, end-to-end with real
# processes, renderer references against ../shared/scenes) and the browser tests in a real
# Chromium. Installs what the browser tests need (Debian's chromium, the npm packages pinned in
# web/tests/package-lock.json) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d ../shared/scenes ]; then
  echo "error: ../shared/scenes (the benchmark scenes and their references) must sit beside this repo" >&2
  exit 1
fi

echo "== cargo test (workspace, dev profile)"
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast

echo "== browser tests (real Chromium)"
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "error: the browser tests need Chromium: apt-get install chromium" >&2
    exit 1
  fi
fi
(cd web/tests && npm ci --no-audit --no-fund --loglevel=error && TESSERA_BIN="$PWD/../../target/debug/tessera" node --test)
