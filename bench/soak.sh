#!/usr/bin/env bash
# Load, slow clients and file descriptors, against the release binary in
# front of the fake Zoho (examples/fake_zoho.rs), on this machine. Prints the
# figures bench/README.md records, each next to its limit:
#
#  1. LOAD: 1,000 concurrent connections for LOAD_SECONDS (wrk, GET): errors,
#     RSS and open fds during the run, fds after it against the baseline.
#  2. SLOW: 3,000 idle connections and 200 slowloris clients (a header line
#     every 5 s): when the proxy closes them, and the latency of normal
#     requests made meanwhile (limit: 50 ms).
#  3. UPLOADS: 1,500 concurrent 1 MB POSTs: peak RSS against the caps.
#
#   bench/soak.sh [LOAD_SECONDS]     (default 60)
#
# Needs wrk, python3 and curl. Not part of CI (it takes ~3 minutes and
# measures; nothing here is asserted by a test). `ZP_TARGET=dir` reuses a
# release build in another target dir.
set -euo pipefail
cd "$(dirname "$0")/.."
load_secs="${1:-60}"
for tool in wrk python3 curl; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
# 1,000 + 3,200 connections on each side of the proxy, in one shell.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

. bench/fake.sh
bench_setup

FAKE_ZOHO_RECORD=0 start_fake

port=18190
# Defaults everywhere (deadlines, buffers, max_connections 4096,
# replay_memory 64 MiB) except the concurrency limit toward Zoho, which
# would otherwise queue the load in front of the fake (that is the
# credential's limit at work, measured elsewhere).
proxy_toml "$port" "127.0.0.1:$((port + 1))" >"$work/proxy.toml"

# Warnings only: a log line per request (~150 MB over the load phase) would
# fill the disk and measure the terminal, not the proxy.
RUST_LOG="${RUST_LOG:-warn}" "$target"/release/zoho-proxy run --config "$work/proxy.toml" 2>"$work/proxy.log" &
proxy=$!
pids+=("$proxy")
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/crm/v8/Leads" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$port/crm/v8/Leads" || { cat "$work/proxy.log"; exit 1; }

rss() { awk '/^VmRSS/ {print $2}' "/proc/$proxy/status"; }   # KiB
fds() { ls "/proc/$proxy/fd" | wc -l; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

echo "zoho-proxy $(git describe --always --dirty 2>/dev/null || echo '?'), $(nproc) cores; fake Zoho, wrk and python share them"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
wrk -t2 -c32 -d3s "http://127.0.0.1:$port/crm/v8/Leads" >/dev/null    # warm-up
sleep 1
base_fds="$(fds)"
base_rss="$(rss)"
echo "baseline: $(mib "$base_rss") RSS, $base_fds open fds"

echo
echo "== 1. LOAD: wrk -t2 -c1000 -d${load_secs}s GET /crm/v8/Leads"
(
    t=0
    while kill -0 "$proxy" 2>/dev/null; do
        echo "$t $(rss) $(fds)"
        sleep 1
        t=$((t + 1))
    done
) >"$work/samples" &
sampler=$!
pids+=("$sampler")
out="$(wrk -t2 -c1000 -d"${load_secs}s" --timeout 5s --latency -s bench/statuses.lua "http://127.0.0.1:$port/crm/v8/Leads")"
kill "$sampler" 2>/dev/null || true
echo "$out" | grep -E "requests in|Requests/sec|50%|99%|Socket errors|Non-2xx|answers|every answer" | sed 's/^ */   /'
echo "$out" | grep -q "Socket errors" || echo "   no socket errors"
echo "$out" | grep -q "Non-2xx" || echo "   no non-2xx answers"
awk -v warm=10 '
    $1 >= warm { n++; r[n] = $2; f[n] = $3
                 if (rmin == "" || $2 < rmin) rmin = $2; if ($2 > rmax) rmax = $2
                 if (fmin == "" || $3 < fmin) fmin = $3; if ($3 > fmax) fmax = $3 }
    END { if (n < 2) { print "   (run too short for RSS samples after warm-up)"; exit }
          printf "   RSS from %ds to the end: first %.1f MiB, last %.1f MiB, min %.1f, max %.1f MiB\n", warm, r[1]/1024, r[n]/1024, rmin/1024, rmax/1024
          printf "   open fds from %ds to the end: min %d, max %d\n", warm, fmin, fmax }' "$work/samples"
sleep 3
echo "   after: $(fds) open fds (baseline $base_fds), $(mib "$(rss)") RSS"

echo
echo "== 2. SLOW: 3,000 idle + 200 slowloris connections, normal requests meanwhile"
python3 - "$port" "$proxy" <<'PY'
import socket, sys, time, selectors, statistics

port, pid = int(sys.argv[1]), int(sys.argv[2])
addr = ("127.0.0.1", port)

def fds():
    import os
    return len(os.listdir(f"/proc/{pid}/fd"))

def normal():
    """One GET on a new connection: seconds to the whole answer, status."""
    t = time.monotonic()
    s = socket.create_connection(addr, timeout=5)
    s.sendall(b"GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return time.monotonic() - t, int(data.split(b" ", 2)[1])

sel = selectors.DefaultSelector()
opened = time.monotonic()
conns = {}
for kind, n in (("idle", 3000), ("slowloris", 200)):
    for _ in range(n):
        s = socket.create_connection(addr, timeout=5)
        s.setblocking(False)
        if kind == "slowloris":
            s.send(b"GET /crm/v8/Leads HTTP/1.1\r\nHost: x\r\n")
        conns[s] = kind
        sel.register(s, selectors.EVENT_READ)
print(f"   opened 3,200 connections in {time.monotonic() - opened:.1f} s; proxy fds {fds()}")
closed = {"idle": [], "slowloris": []}
latencies, statuses = [], []
next_probe = next_drip = time.monotonic()
deadline = time.monotonic() + 90
while conns and time.monotonic() < deadline:
    now = time.monotonic()
    if now >= next_probe:
        took, status = normal()
        latencies.append(took)
        statuses.append(status)
        next_probe = now + 0.25
    if now >= next_drip:
        for s, kind in list(conns.items()):
            if kind == "slowloris":
                try:
                    s.send(b"X-Drip: 1\r\n")
                except OSError:
                    pass
        next_drip = now + 5
    for key, _ in sel.select(timeout=0.05):
        s = key.fileobj
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        # The proxy's answer (408 or nothing) ends the connection either way.
        while data:
            try:
                data = s.recv(4096)
            except BlockingIOError:
                break
            except OSError:
                data = b""
        if not data:
            closed[conns.pop(s)].append(time.monotonic() - opened)
            sel.unregister(s)
            s.close()
for kind in ("idle", "slowloris"):
    t = closed[kind]
    if t:
        print(f"   {kind}: {len(t)} closed by the proxy, after {min(t):.1f}-{max(t):.1f} s")
left = len(conns)
print(f"   still open after 90 s: {left}")
latencies.sort()
over = sum(1 for l in latencies if l > 0.050)
p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
print(f"   normal requests meanwhile: {len(latencies)}, statuses {sorted(set(statuses))}, "
      f"median {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
      f"max {latencies[-1] * 1000:.1f} ms, over 50 ms: {over} (limit: 0)")
time.sleep(1)
print(f"   proxy fds after: {fds()}")
PY

echo
echo "== 3. UPLOADS: 1,500 concurrent POSTs of 1 MB"
python3 - "$port" "$proxy" <<'PY'
import asyncio, sys, time, threading

port, pid = int(sys.argv[1]), int(sys.argv[2])
SIZE, N = 1_000_000, 1500
peak = [0]
running = [True]

def rss():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])

def sample():
    while running[0]:
        peak[0] = max(peak[0], rss())
        time.sleep(0.05)

async def upload(start, statuses):
    await start.wait()
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(f"POST /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {SIZE}\r\nConnection: close\r\n\r\n".encode())
    chunk = b"x" * 65536
    left = SIZE
    while left:
        n = min(left, len(chunk))
        w.write(chunk[:n])
        await w.drain()
        left -= n
    head = await r.readuntil(b"\r\n")
    statuses[int(head.split()[1])] = statuses.get(int(head.split()[1]), 0) + 1
    await r.read()
    w.close()

async def main():
    before = rss()
    threading.Thread(target=sample, daemon=True).start()
    start, statuses = asyncio.Event(), {}
    tasks = [asyncio.create_task(upload(start, statuses)) for _ in range(N)]
    await asyncio.sleep(0.5)
    t = time.monotonic()
    start.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    took = time.monotonic() - t
    running[0] = False
    errors = [r for r in results if isinstance(r, Exception)]
    print(f"   {N} uploads in {took:.1f} s: statuses {statuses}, client errors {len(errors)}"
          + (f" (first: {errors[0]!r})" if errors else ""))
    print(f"   RSS before {before / 1024:.1f} MiB, peak {peak[0] / 1024:.1f} MiB, after {rss() / 1024:.1f} MiB")

asyncio.run(main())
PY
sleep 2
echo "   proxy fds after: $(fds) (baseline $base_fds)"
if [ -s "$work/proxy.log" ]; then
    echo
    echo "proxy log (warnings), most frequent first:"
    # Without the timestamp and the per-event numbers, so alike lines group.
    sed -e 's/"timestamp":"[^"]*",//' -e 's/"\(delay_ms\|attempt\|retry_in_ms\)":[0-9]*,\?//g' \
        "$work/proxy.log" | cut -c1-220 | sort | uniq -c | sort -rn | head -8
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
