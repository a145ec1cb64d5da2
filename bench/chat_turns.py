#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Times the turns of one chat against a running `moefit serve` (or any OpenAI-compatible server).

The first user message is a long document of random words; every later turn sends the whole
history back (each reply, then a short question), as chat apps do. Prints, per turn, the prompt
tokens, the tokens the server says it reused (usage.prompt_tokens_details.cached_tokens) and
the wall time of the request. Standard library only.

  python3 bench/chat_turns.py --model q30-8l-v32k --words 400 --turns 4 [--url http://127.0.0.1:18080]
"""
import argparse
import json
import random
import sys
import time
import urllib.error
import urllib.request

WORDS = ("the river mountain city light paper stone window garden music silver orange engine winter "
         "summer story table quiet").split()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:18080")
    parser.add_argument("--model", required=True, help="model id the server serves (GET /v1/models)")
    parser.add_argument("--words", type=int, default=400, help="words in the first message")
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    document = " ".join(rng.choice(WORDS) for _ in range(args.words))
    messages = [{"role": "user", "content": "Summarize this document:\n" + document}]
    for turn in range(1, args.turns + 1):
        body = json.dumps({"model": args.model, "messages": messages, "max_tokens": args.max_tokens,
                           "temperature": 0}).encode()
        request = urllib.request.Request(args.url + "/v1/chat/completions", data=body,
                                         headers={"Content-Type": "application/json"})
        start = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=3600) as response:
                reply = json.load(response)
        except urllib.error.HTTPError as error:
            sys.exit(f"turn {turn}: HTTP {error.code}: {error.read().decode(errors='replace')}")
        seconds = time.monotonic() - start
        usage = reply["usage"]
        cached = usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
        print(f"turn {turn}: prompt {usage['prompt_tokens']} tokens, reused {cached}, "
              f"completion {usage['completion_tokens']}: {seconds:.2f} s", flush=True)
        messages += [{"role": "assistant", "content": reply["choices"][0]["message"]["content"] or ""},
                     {"role": "user", "content": f"Question {turn}: say more?"}]


if __name__ == "__main__":
    main()
