#!/usr/bin/env python3
"""Cold start and idle RSS of one function binary.

Cold start = from exec to the first 200 on /health (polling a fresh TCP connection every
0.2 ms). Idle RSS = VmRSS one second after that first answer. Prints one markdown table row.
"""
import os
import socket
import statistics
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def once(binary, env):
    port = free_port()
    env = dict(env, PORT=str(port), HOST="127.0.0.1")
    start = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not health(port):
            if proc.poll() is not None:
                raise SystemExit(f"{binary} exited with {proc.returncode}")
            if time.perf_counter() - start > 10:
                raise SystemExit(f"{binary}: no 200 on /health within 10 s")
            time.sleep(0.0002)
        elapsed_ms = (time.perf_counter() - start) * 1000
        time.sleep(1)
        with open(f"/proc/{proc.pid}/status") as f:
            rss_kib = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        return elapsed_ms, rss_kib
    finally:
        proc.terminate()
        proc.wait()


def main():
    binary, runs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
    samples = [once(binary, os.environ) for _ in range(runs)]
    starts = sorted(s for s, _ in samples)
    rss = sorted(r for _, r in samples)
    name = os.path.basename(binary)
    size_mib = os.path.getsize(binary) / 1048576
    p50 = statistics.median(starts)
    p95 = starts[int(len(starts) * 0.95) - 1]
    rss_mib = statistics.median(rss) / 1024
    print(f"| {name} | {size_mib:.1f} MiB | {p50:.1f} / {p95:.1f} ms | {rss_mib:.1f} MiB |")


if __name__ == "__main__":
    main()
