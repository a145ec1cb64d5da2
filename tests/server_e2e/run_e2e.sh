#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end test of `moefit serve` with the official openai npm client (see e2e.mjs).
#   run_e2e.sh MOEFIT_BINARY WORK_DIR FIXTURES_DIR
# Exits 77 (ctest: skipped) with the reason when node/npm, the openai package or the fixtures
# are missing.
set -euo pipefail
moefit=$1 work=$2 fixtures=$3
here=$(cd "$(dirname "$0")" && pwd)

skip() { echo "SKIPPED: $*"; exit 77; }
command -v node >/dev/null || skip "node is not installed (the test drives the server with the openai npm client)"
command -v npm >/dev/null || skip "npm is not installed (needed once, to install openai@^6)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || skip "node $node_major is too old (openai@6 needs node 18+)"
vocab="$fixtures/models/tiny-qwen3moe-q8_0.gguf"
[ -f "$vocab" ] || skip "$vocab is missing (the test model takes its Qwen3 tokenizer (4122 tokens) and chat template from it)"

mkdir -p "$work"
if [ ! -f "$work/node_modules/openai/package.json" ]; then
  echo "installing openai@^6 into $work"
  (cd "$work" && { [ -f package.json ] || echo '{"private": true}' > package.json; } &&
    npm install --no-audit --no-fund --loglevel=error "openai@^6" >/dev/null) ||
    skip "npm could not install openai@^6 (no network access to the npm registry?)"
fi

model="$work/tiny-qwen3moe-e2e.gguf"
"$moefit" synth -o "$model" --vocab "$vocab" --seed 5 >/dev/null

E2E_NODE_MODULES="$work/node_modules" exec node "$here/e2e.mjs" "$moefit" "$model" "$here/scripted_replies.json"
