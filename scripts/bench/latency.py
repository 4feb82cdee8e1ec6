#!/usr/bin/env python3
"""p50/p95/p99 latency of one GET, sequentially, over keep-alive HTTP.

usage: latency.py URL TOKEN RUNS [--before 'shell command run before each request, untimed']
"""
import http.client
import statistics
import subprocess
import sys
import time
import urllib.parse


def main():
    url, token, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    before = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--before" else None
    parts = urllib.parse.urlsplit(url)
    path = parts.path + (("?" + parts.query) if parts.query else "")
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    headers = {"Authorization": f"Bearer {token}"}
    samples = []
    for i in range(runs + 20):
        if before:
            subprocess.run(before, shell=True, check=True, stdout=subprocess.DEVNULL)
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 200:
            raise SystemExit(f"{url}: {response.status}")
        if i >= 20:  # warm-up
            samples.append(elapsed)
    samples.sort()
    p = lambda q: samples[int(len(samples) * q) - 1]
    print(f"p50 {statistics.median(samples):.2f} ms   p95 {p(0.95):.2f} ms   p99 {p(0.99):.2f} ms   ({runs} requests)")


if __name__ == "__main__":
    main()
