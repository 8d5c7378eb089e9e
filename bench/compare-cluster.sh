#!/usr/bin/env bash
# zoho-proxy with and without [cluster] (a local redis-server), same hop to
# the fake Zoho, driven by wrk in turn: what sharing tokens and limits through
# Redis costs per request. With [cluster] every request makes one admission
# round trip to Redis (and a release afterwards).
#
#   bench/compare-cluster.sh [DURATION] [CONNECTIONS]     (defaults: 10s 32)
#
# Needs wrk and redis-server (Debian: apt-get install wrk redis-server). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10s}"
conns="${2:-32}"
for tool in wrk redis-server curl; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install wrk redis-server curl)" >&2; exit 1; }
done

. bench/fake.sh
bench_setup

start_fake

redis_port=18379
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null &
redis_pid=$!
pids+=("$redis_pid")

config() { # $1 listen port, $2 extra
    proxy_toml "$1" "127.0.0.1:0" "$2"
}
config 18080 "" >"$work/alone.toml"
config 18082 "[cluster]
redis_url = \"redis://127.0.0.1:$redis_port\"" >"$work/cluster.toml"

hz="$(getconf CLK_TCK)"
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

for name in alone cluster; do
    port_in=18080; [ "$name" = cluster ] && port_in=18082
    RUST_LOG="${RUST_LOG:-info}" "$target"/release/zoho-proxy --log-format json run --config "$work/$name.toml" 2>"$work/$name.log" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port_in/crm/v8/Leads" && break; sleep 0.1; done
    wrk -t2 -c"$conns" -d2s "http://127.0.0.1:$port_in/crm/v8/Leads" >/dev/null   # warm-up
    echo "== $name: wrk -t2 -c$conns -d$duration GET /crm/v8/Leads"
    before="$(cpu "$pid")"
    redis_before="$(cpu "$redis_pid")"
    out="$(wrk -t2 -c"$conns" -d"$duration" --latency "http://127.0.0.1:$port_in/crm/v8/Leads")"
    after="$(cpu "$pid")"
    redis_after="$(cpu "$redis_pid")"
    echo "$out" | grep -E "Requests/sec|50%|99%|requests in|Non-2xx"
    requests="$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')"
    awk -v t="$((after - before))" -v hz="$hz" -v n="$requests" \
        'BEGIN { printf "   CPU: %.1f s in all, %.1f us per request (the proxy process only)\n", t / hz, t / hz / n * 1e6 }'
    awk -v t="$((redis_after - redis_before))" -v hz="$hz" -v n="$requests" \
        'BEGIN { printf "   redis-server CPU: %.1f us per request\n", t / hz / n * 1e6 }'
    kill "$pid"
done
