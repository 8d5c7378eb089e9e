#!/usr/bin/env bash
# zoho-proxy against nginx doing the same hop: plain HTTP in, the token header
# added, TLS (verified, test CA) to a fake Zoho, the answer streamed back.
# Both run on this machine at once with the fake; wrk drives each in turn.
#
#   bench/compare-nginx.sh [DURATION] [CONNECTIONS]     (defaults: 10s 32)
#
# Needs nginx and wrk (Debian: apt-get install nginx wrk). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10s}"
conns="${2:-32}"
for tool in nginx wrk curl; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install nginx wrk curl)" >&2; exit 1; }
done

. bench/fake.sh
on_exit() {
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
}
bench_setup

# The fake Zoho (accounts + API over TLS) writes ca.pem and a proxy.toml.
start_fake
port="${url##*:}"

# zoho-proxy: one catalog-checked route for all of CRM, no shaping in the way.
proxy_toml 18080 "127.0.0.1:0" >"$work/proxy.toml"
RUST_LOG="${RUST_LOG:-info}" "$target"/release/zoho-proxy --log-format json run --config "$work/proxy.toml" 2>"$work/zoho-proxy.log" &
pids+=($!)

# nginx: the same hop with a token fetched once, upstream keep-alive, access log on.
token="$(curl -s --cacert "$work/fake/ca.pem" -d grant_type=refresh_token \
    -d "client_id=$(fake_field client_id)" -d "client_secret=$(fake_field client_secret)" \
    -d "refresh_token=$(fake_field refresh_token)" "$url/oauth/v2/token" \
    | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
mkdir -p "$work/nginx"
cat >"$work/nginx.conf" <<NGINX
user root;
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log $work/nginx/access.log;
    client_body_temp_path $work/nginx;
    proxy_temp_path $work/nginx;
    upstream zoho { server 127.0.0.1:$port; keepalive 64; }
    server {
        listen 127.0.0.1:18081;
        location / {
            proxy_pass https://zoho;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host localhost:$port;
            proxy_set_header Authorization "Zoho-oauthtoken $token";
            proxy_ssl_server_name on;
            proxy_ssl_name localhost;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $work/fake/ca.pem;
            proxy_ssl_session_reuse on;
        }
    }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work/nginx"

for _ in $(seq 100); do
    curl -sf -o /dev/null http://127.0.0.1:18080/crm/v8/Leads && curl -sf -o /dev/null http://127.0.0.1:18081/crm/v8/Leads && break
    sleep 0.1
done

# CPU seconds (user + system) used so far by a process and its children.
cpu() {
    local total=0 p
    for p in "$@" $(for q in "$@"; do pgrep -P "$q" || true; done); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo "$total"
}
hz="$(getconf CLK_TCK)"

for name in zoho-proxy nginx; do
    port_in=18080; [ "$name" = nginx ] && port_in=18081
    pid=$([ "$name" = nginx ] && cat "$work/nginx.pid" || echo "${pids[1]}")
    wrk -t2 -c"$conns" -d2s "http://127.0.0.1:$port_in/crm/v8/Leads" >/dev/null   # warm-up
    echo "== $name: wrk -t2 -c$conns -d$duration GET /crm/v8/Leads"
    before="$(cpu "$pid")"
    out="$(wrk -t2 -c"$conns" -d"$duration" --latency "http://127.0.0.1:$port_in/crm/v8/Leads")"
    after="$(cpu "$pid")"
    echo "$out" | grep -E "Requests/sec|50%|99%|requests in|Non-2xx"
    requests="$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')"
    awk -v t="$((after - before))" -v hz="$hz" -v n="$requests" \
        'BEGIN { printf "   CPU: %.1f s in all, %.1f us per request (the proxy process only)\n", t / hz, t / hz / n * 1e6 }'
    echo "   RSS after: $(awk '/VmRSS/ {print $2, $3}' /proc/"$pid"/status) (nginx: master process)"
done
