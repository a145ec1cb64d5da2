#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The README's "What fits" table: `moefit plan --json` for each catalog model on a 16 GB GPU +
# 32 GB RAM machine under 12G / 18G caps, ctx 8192. Rerun after changing the planner:
#   bench/plan_table.py build/bin/moefit
import json, subprocess, sys, re
B = sys.argv[1]
models = [("qwen3-30b-a3b","q4_k_m"),("qwen3-235b-a22b","q4_k_m"),("qwen1.5-moe-a2.7b","q4_k_m"),("qwen2-57b-a14b","q4_k_m"),
          ("deepseek-v2-lite","q4_k_m"),("deepseek-v3","q4_k_m"),("glm-4.5-air","q4_k_m"),("gpt-oss-20b","mxfp4_moe"),
          ("gpt-oss-120b","mxfp4_moe"),("mixtral-8x7b","q4_k_m"),("mixtral-8x22b","q4_k_m"),("olmoe-1b-7b","q4_k_m"),("qwen3-8b","q4_k_m")]
G = 1 << 30
def span(vals):
    lo, hi = min(vals), max(vals)
    return f"{lo}" if lo == hi else f"{lo}-{hi}"
rows = []
for m, t in models:
    p = json.loads(subprocess.run([B, "plan", "--model", m, "--type", t, "--gpu-mem", "12G", "--ram", "18G", "--ctx", "8192",
                          "--machine-gpu", "16G", "--machine-ram", "32G", "--json"], capture_output=True, text=True).stdout)
    dev = {d["name"]: d for d in p["devices"]}
    def gib(name):
        v = dev.get(name, {}).get("total_bytes", 0)
        return "—" if not p["fits"] or v == 0 else f"{v / G:.1f}"
    if not p["fits"]:
        text = p["verdict"].removeprefix("does not fit: ")
        last = text[:90] + "…" if len(text) > 90 else text
        ctx = "does not fit"
    else:
        ex = p["experts"]
        ctx = f'{p["max_ctx"]:,}'
        if not ex:
            last = "dense: all layers on gpu0"
        else:
            n = ex[0]["n_experts"]
            gpu = [e["gpu_slots"] for e in ex]; host = [e["host_slots"] for e in ex]
            disk = dev.get("disk", {}).get("total_bytes", 0)
            if min(gpu) == n:
                last = f"all {n} on the GPU"
            elif disk > 0:
                last = f"GPU {span(gpu)} of {n} experts; rest streamed ({disk / G:.2f} GiB) through a RAM cache of {span(host)}: expect disk-bound decoding"
            else:
                last = f"GPU {span(gpu)} of {n} experts, RAM the rest"
    rows.append(f'| {p["model"]["name"]} | {p["model"]["file_type"]} | {p["model"]["weights_bytes"]/G:.1f} | {gib("gpu0")} | {gib("host")} | {gib("disk")} | {ctx} | {last} |')
print("\n".join(rows))
