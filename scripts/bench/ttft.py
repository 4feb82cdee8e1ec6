#!/usr/bin/env python3
"""Time to first token through our server: N concurrent SSE message streams, each timed from
sending the request to the first `event: delta`. The fake provider (functions/chat/examples/
fake_openai.rs) answers at once, so this is the time our server adds (auth, rate limit,
saving the message, the crisis checks, the provider round trips on loopback).

usage: ttft.py BASE_URL TOKEN CONVERSATION_IDS_FILE CONCURRENCY ROUNDS
"""
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse


def one(base, token, conversation, samples):
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    body = json.dumps({"content": "오늘 하루가 길었어"})
    start = time.perf_counter()
    conn.request("POST", f"{parts.path}/conversations/{conversation}/messages", body=body, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "text/event-stream"})
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"status {response.status}: {response.read()[:200]}")
    first = None
    while True:
        line = response.fp.readline()
        if not line:
            break
        if first is None and line.startswith(b"event: delta"):
            first = (time.perf_counter() - start) * 1000
        if line.startswith(b"event: done") or line.startswith(b"event: error"):
            response.fp.readline()
            break
    conn.close()
    samples.append(first)


def main():
    base, token, ids_file, concurrency, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    conversations = open(ids_file).read().split()
    samples = []
    for r in range(rounds + 1):
        threads = [threading.Thread(target=one, args=(base, token, conversations[i], samples if r else []))
                   for i in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    samples = sorted(s for s in samples if s is not None)
    print(f"time to first delta, {concurrency} concurrent streams x {rounds} rounds: "
          f"p50 {statistics.median(samples):.1f} ms   p95 {samples[int(len(samples) * 0.95) - 1]:.1f} ms   ({len(samples)} streams)")


if __name__ == "__main__":
    main()
