#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Planner overheads vs measured peaks: runs `moefit run` on the fixture models and on synthesized
# models (uncapped, and with a --ram cap that streams experts), and prints a markdown table of
# the plan's host total against the peak resident set (VmHWM) each run reports.
#
#   bench/memory_peaks.sh [build/bin/moefit] [work dir for synthesized models]
#
# Synthesizing the larger models takes a few minutes on 2 cores; they are kept in the work dir.
set -euo pipefail

moefit=${1:-build/bin/moefit}
work=${2:-build/memory_peaks}
fixtures=${MOEFIT_FIXTURES:-../shared/fixtures}
mkdir -p "$work"

synth() {  # synth NAME ARGS...: synthesizes $work/NAME.gguf once
  local name=$1
  shift
  [ -f "$work/$name.gguf" ] || "$moefit" synth "$@" -o "$work/$name.gguf" >/dev/null 2>&1
}

qwen3_vocab=$fixtures/tokenizer/vocab-qwen3.gguf
synth rss-q8_0 --preset tiny --layers 3 --dim 512 --heads 8 --kv-heads 2 --head-dim 64 --experts 32 --active 4 \
  --expert-ffn 512 --type q8_0 --seed 3
synth demo-q4_k_m --preset tiny --arch qwen3moe --layers 8 --dim 512 --heads 8 --kv-heads 2 --head-dim 64 \
  --experts 32 --active 4 --expert-ffn 512 --type q4_k_m --seed 7
synth tiny-q8_0 --preset tiny --type q8_0 --seed 5
synth tiny-vocab151k-q8_0 --preset tiny --vocab "$qwen3_vocab" --type q8_0 --seed 5
synth tiny-vocab128k-q8_0 --preset tiny --vocab "$fixtures/tokenizer/vocab-llama3.gguf" --type q8_0 --seed 5
synth qwen3-30b-4layers-q4_k_m --preset qwen3-30b-a3b --layers 4 --vocab "$qwen3_vocab" --type q4_k_m --seed 9

# budget peak: the planned overhead (charged up front) + what the engine charged; process +
# tokenizer: the measured peak less what the engine charged (what the overhead must cover).
echo "| model | flags | plan host total | overhead in plan | budget peak | measured peak (VmHWM) | peak - plan | tolerance | process + tokenizer (measured) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
measure() {  # measure FILE FLAGS...
  local file=$1
  shift
  local err
  err=$("$moefit" run -m "$file" -p "Once upon a time" -n 32 --temp 0 --ctx 1024 "$@" 2>&1 >/dev/null)
  local peak plan budget overhead
  peak=$(sed -n 's/.*peak RSS [^(]*(\([0-9]*\) bytes).*/\1/p' <<<"$err")
  plan=$(sed -n 's/.*plan host total [^(]*(\([0-9]*\) bytes).*/\1/p' <<<"$err")
  budget=$(sed -n 's/.*budget peak [^(]*(\([0-9]*\) bytes).*/\1/p' <<<"$err")
  overhead=$(sed -n 's/^plan: .*overhead \([0-9.]* [KMG]iB\).*/\1/p' <<<"$err")
  if [ -z "$peak" ] || [ -z "$plan" ]; then
    echo "| $(basename "$file") | $* | run failed: $(tail -1 <<<"$err") ||||||||"
    return
  fi
  awk -v name="$(basename "$file" .gguf)" -v flags="$*" -v peak="$peak" -v plan="$plan" -v budget="$budget" \
      -v overhead="$overhead" 'BEGIN {
    mib = 1048576; tolerance = plan * 0.03; if (tolerance < 32 * mib) tolerance = 32 * mib;
    split(overhead, o, " "); planned = o[1] * (o[2] == "GiB" ? 1024 * mib : o[2] == "MiB" ? mib : 1024);
    printf "| %s | %s | %.1f MiB | %s | %.1f MiB | %.1f MiB | %+.1f MiB | %.1f MiB | %.1f MiB |\n", name, flags == "" ? "-" : flags,
           plan / mib, overhead, budget / mib, peak / mib, (peak - plan) / mib, tolerance / mib, (peak - budget + planned) / mib }'
}

for file in "$fixtures"/models/tiny-qwen3moe-*.gguf "$fixtures"/models/arch/*.gguf; do measure "$file"; done
measure "$work/rss-q8_0.gguf"
measure "$work/rss-q8_0.gguf" --ram 80M
measure "$work/demo-q4_k_m.gguf"
measure "$work/tiny-q8_0.gguf"
measure "$work/tiny-vocab151k-q8_0.gguf"
measure "$work/tiny-vocab128k-q8_0.gguf"
measure "$work/qwen3-30b-4layers-q4_k_m.gguf"
measure "$work/qwen3-30b-4layers-q4_k_m.gguf" --ram 1G
