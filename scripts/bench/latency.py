#!/usr/bin/env python3
"""p50/p95/p99 latency of one request, sequentially, over keep-alive HTTP.

usage: latency.py URL TOKEN RUNS [--before 'shell command run before each request, untimed']
                                 [--method PATCH] [--body JSON] [--each FILE]
--each: request URL + the next line of FILE each time (e.g. one id a check-in); the 20
warm-up requests take lines too.
"""
import argparse
import http.client
import statistics
import subprocess
import time
import urllib.parse


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("runs", type=int)
    parser.add_argument("--before")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body")
    parser.add_argument("--each")
    args = parser.parse_args()
    parts = urllib.parse.urlsplit(args.url)
    path = parts.path + (("?" + parts.query) if parts.query else "")
    suffixes = open(args.each).read().split() if args.each else None
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    headers = {"Authorization": f"Bearer {args.token}"}
    if args.body is not None:
        headers["Content-Type"] = "application/json"
    samples = []
    for i in range(args.runs + 20):
        if args.before:
            subprocess.run(args.before, shell=True, check=True, stdout=subprocess.DEVNULL)
        target = path + suffixes[i] if suffixes else path
        start = time.perf_counter()
        conn.request(args.method, target, body=args.body, headers=headers)
        response = conn.getresponse()
        response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 200:
            raise SystemExit(f"{args.method} {target}: {response.status}")
        if i >= 20:  # warm-up
            samples.append(elapsed)
    samples.sort()
    p = lambda q: samples[int(len(samples) * q) - 1]
    print(f"p50 {statistics.median(samples):.2f} ms   p95 {p(0.95):.2f} ms   p99 {p(0.99):.2f} ms   ({args.runs} requests)")


if __name__ == "__main__":
    main()
