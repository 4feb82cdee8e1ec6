"""Uploads one file N times, C at once (threads, keep-alive connections), and prints the
throughput and latencies: uploads.py URL TOKEN FILE N C."""
import http.client
import statistics
import sys
import threading
import time
import urllib.parse

url, token, path, total, concurrency = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
data = open(path, "rb").read()
boundary = "bench-boundary-5f1c"
body = (
    f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo.jpg"\r\n'
    f"Content-Type: image/jpeg\r\n\r\n"
).encode() + data + f"\r\n--{boundary}--\r\n".encode()
target = urllib.parse.urlsplit(url)
latencies, failures, lock = [], [], threading.Lock()
left = iter(range(total))


def worker():
    conn = http.client.HTTPConnection(target.hostname, target.port)
    while True:
        with lock:
            if next(left, None) is None:
                break
        started = time.perf_counter()
        conn.request("POST", target.path, body, {
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        })
        response = conn.getresponse()
        response.read()
        with lock:
            latencies.append(time.perf_counter() - started)
            if response.status >= 300:
                failures.append(response.status)


started = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(concurrency)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter() - started
mib = len(data) * total / 1048576
latencies.sort()
print(f"{total} uploads of {len(data) / 1048576:.2f} MiB, {concurrency} at once: {elapsed:.1f} s, "
      f"{mib / elapsed:.1f} MiB/s, p50 {statistics.median(latencies) * 1000:.0f} ms, "
      f"p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.0f} ms, failures {len(failures)} {sorted(set(failures))}")
