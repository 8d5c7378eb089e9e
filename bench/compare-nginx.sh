#!/usr/bin/env bash
# zoho-proxy against nginx doing the same hop: plain HTTP in, the token header
# added, TLS (verified, test CA) to a fake Zoho, the answer streamed back.
# Everything runs on this machine at once; wrk drives each proxy in turn.
#
#   bench/compare-nginx.sh [DURATION] [CONNECTIONS] [RUNS]   (defaults: 10s 32 3)
#
# Regimes and figures (bench/README.md explains each):
#   near    fake Zoho answering at once (CPU-bound): RUNS rounds of wrk against
#           zoho-proxy (HTTP/2 and HTTP/1.1 upstream, one worker per core;
#           and HTTP/2 with one worker) and nginx, in turn:
#           req/s, p50, p99, CPU per request, peak RSS, upstream connections
#   far     the fake waits FAR_DELAY (50ms) before answering; for each of
#           FAR_CONNECTIONS ("1000 100") client counts, the direct call (wrk
#           straight to the fake over TLS) against both proxies: p50, p99,
#           added latency, errors, CPU, RSS, upstream connections
#   flat    CPU per request with ROUTES (1000) routes, the match at the end,
#           against 1 route; with IDLE (1000) idle keep-alive connections open
#           against none
#   memory  peak RSS while a 256 MiB upload and a 256 MiB download stream at once
#   cost    instructions and heap allocations per request, counted by callgrind
#           (independent of the machine's load), CG_REQUESTS (2000) sequential
#           keep-alive requests
#
# Needs nginx, wrk, curl, python3, valgrind (Debian: apt-get install nginx wrk
# curl python3 valgrind). ZP_TARGET=dir reuses a release build in another
# target dir. SKIP="far memory cost" leaves sections out. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
bench="$PWD/bench"
duration="${1:-10s}"
conns="${2:-32}"
runs="${3:-3}"
far_conns="${FAR_CONNECTIONS:-1000 100}"
far_delay="${FAR_DELAY:-50ms}"
routes="${ROUTES:-1000}"
idle="${IDLE:-1000}"
cg_requests="${CG_REQUESTS:-2000}"
skip=" ${SKIP:-} "
for tool in nginx wrk curl python3 valgrind ss; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"   # 1,000 clients + 1,000 upstream connections need more than 1,024

. bench/fake.sh
nginx_pids=()
on_exit() {
    for p in "${nginx_pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
bench_setup
target="$(realpath "$target")"
# The fakes keep no record of requests: their memory stays flat.
export FAKE_ZOHO_RECORD=0
hz="$(getconf CLK_TCK)"
# Syscalls per request, where perf may count them (a tracepoint: needs root
# or a low perf_event_paranoid).
perf_ok=""
# (Its output read whole first: `grep -q` quitting early would fail the pipe
# under pipefail.)
command -v perf >/dev/null && [[ "$(perf stat -e raw_syscalls:sys_enter -- true 2>&1)" =~ [0-9]+\ +raw_syscalls ]] && perf_ok=1
results="$work/results.md"
: >"$results"
row() { echo "$*" | tee -a "$results"; }
load() { cut -d' ' -f1 /proc/loadavg; }

# An access token from the fake in DIR (at URL), for nginx.
token_of() {
    curl -s --cacert "$1/ca.pem" -d grant_type=refresh_token \
        -d "client_id=$(fake_field client_id "$1")" -d "client_secret=$(fake_field client_secret "$1")" \
        -d "refresh_token=$(fake_field refresh_token "$1")" "$2/oauth/v2/token" \
        | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}

# zoho-proxy config: FILE FAKE_DIR FAKE_URL LISTEN_PORT ROUTES UPSTREAM_HTTP
# [WORKERS] (default: one per core).
# With more than one route, ROUTES-1 realistic routes that do not match come
# first and the catalog-checked `/crm/**` route last.
zp_config() {
    local file=$1 dir=$2 url=$3 port=$4 n=$5 http=$6 workers=${7:+workers = $7} i
    cat >"$file" <<TOML
[server]
listen = "127.0.0.1:$port"
$workers
[admin]
listen = "127.0.0.1:0"
[zoho]
client_id = "$(fake_field client_id "$dir")"
client_secret = "$(fake_field client_secret "$dir")"
refresh_token = "$(fake_field refresh_token "$dir")"
accounts_url = "$url"
api_url = "$url"
ca_file = "$dir/ca.pem"
upstream_http = "$http"
[rate_limit]
max_concurrent = 100000
TOML
    for ((i = 1; i < n; i++)); do
        case $((i % 4)) in
            0) printf '[[routes]]\nname = "custom-%d"\npath = "/crm/v*/Custom_Module_%d/**"\nscopes = ["ZohoCRM.modules.custom.ALL"]\n' "$i" "$i" ;;
            1) printf '[[routes]]\nname = "lead-notes-%d"\npath = "/crm/v8/Leads/%d/Notes/**"\nmethods = ["GET"]\nscopes = ["ZohoCRM.modules.notes.READ", "ZohoCRM.modules.leads.READ"]\n' "$i" "$((4876876000000000000 + i))" ;;
            2) printf '[[routes]]\nname = "books-%d"\npath = "/books/v3/invoices/%d/**"\nscopes = ["ZohoBooks.invoices.ALL"]\n' "$i" "$i" ;;
            3) printf '[[routes]]\nname = "settings-%d"\npath = "/crm/v8/settings/custom_%d/*"\nmethods = ["GET"]\nscopes = ["ZohoCRM.settings.ALL"]\n' "$i" "$i" ;;
        esac >>"$file"
    done
    printf '[[routes]]\nname = "crm"\npath = "/crm/**"\nscopes = ["ZohoCRM.modules.ALL"]\n' >>"$file"
}

# Starts zoho-proxy with CONFIG (logs: JSON at info), optionally under a
# wrapper command. Sets zp_pid; waits until PORT answers.
start_zp() {
    local config=$1 port=$2; shift 2
    RUST_LOG="${RUST_LOG:-info}" "$@" "$target"/release/zoho-proxy --log-format json run \
        --config "$config" 2>>"$work/zoho-proxy.log" &
    zp_pid=$!
    pids+=("$zp_pid")
    wait_ready "$port"
    # Another process answering on the port (a clash) is not this proxy.
    ss -ltnpH "( sport = :$port )" | grep -q "pid=$zp_pid," || {
        echo "port $port is not zoho-proxy's (pid $zp_pid):" >&2
        tail -3 "$work/zoho-proxy.log" >&2
        exit 1
    }
}

# nginx.conf for NAME: FAKE_DIR FAKE_PORT LISTEN_PORT TOKEN [EXTRA main-context
# lines]. The same hop with a token fetched once, upstream keep-alive (64 idle
# connections), access log on.
nginx_conf() {
    local name=$1 dir=$2 fport=$3 port=$4 token=$5 extra=${6:-}
    mkdir -p "$work/$name"
    cat >"$work/$name.conf" <<NGINX
user root;
worker_processes auto;
worker_rlimit_nofile 16384;
pid $work/$name.pid;
error_log $work/$name/error.log;
$extra
events { worker_connections 8192; }
http {
    access_log $work/$name/access.log;
    client_body_temp_path $work/$name;
    proxy_temp_path $work/$name;
    upstream zoho { server 127.0.0.1:$fport; keepalive 64; }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass https://zoho;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host localhost:$fport;
            proxy_set_header Authorization "Zoho-oauthtoken $token";
            proxy_ssl_server_name on;
            proxy_ssl_name localhost;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $dir/ca.pem;
            proxy_ssl_session_reuse on;
            client_max_body_size 0;
        }
    }
}
NGINX
}

# nginx as a daemon (master + one worker per core); the arguments are
# nginx_conf's. Sets nginx_pid (the master).
start_nginx() {
    nginx_conf "$@"
    local name=$1 port=$4
    nginx -c "$work/$name.conf" -p "$work/$name"
    for _ in $(seq 50); do [ -s "$work/$name.pid" ] && break; sleep 0.1; done
    nginx_pid="$(cat "$work/$name.pid")"
    nginx_pids+=("$nginx_pid")
    wait_ready "$port"
}

# IDLE keep-alive connections to PORT, each after one request; sets idle_pid.
open_idle() {
    python3 "$bench/idle_conns.py" "$1" /crm/v8/Leads "$idle" >"$work/idle.out" &
    idle_pid=$!
    pids+=("$idle_pid")
    for _ in $(seq 600); do grep -q ready "$work/idle.out" 2>/dev/null && break; sleep 0.1; done
}
close_idle() { kill "$idle_pid" 2>/dev/null || true; wait "$idle_pid" 2>/dev/null || true; sleep 1; }

wait_ready() {
    for _ in $(seq 600); do
        curl -sf -o /dev/null "http://127.0.0.1:$1/crm/v8/Leads" && return 0
        sleep 0.2
    done
    echo "nothing answers on port $1" >&2
    exit 1
}

family() { echo "$1" $(pgrep -P "$1" || true); }
# CPU ticks (user + system) used so far by processes.
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
# Peak RSS in MiB: the sum of the processes' high-water marks.
peak_mib() { local k=0 p; for p in "$@"; do k=$((k + $(awk '/VmHWM/ {print $2}' "/proc/$p/status"))); done; awk -v k="$k" 'BEGIN { printf "%.1f", k / 1024 }'; }
reset_peak() { local p; for p in "$@"; do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done; }
# Established TCP connections the processes hold to PORT.
upstream_conns() {
    local port=$1; shift
    local pat; pat="$(printf 'pid=%s,|' "$@")"
    ss -tnpH state established "( dport = :$port )" | grep -cE "${pat%|}" || true
}

# wrk against URL with the processes PIDS (empty for none) measured:
# prints "req/s p50 p99 cpu_us conns errors" and sets the same variables.
measure() {
    local url=$1 c=$2 d=$3 fport=$4; shift 4
    local extra=()
    [ -n "${WRK_HEADER:-}" ] && extra=(-H "$WRK_HEADER")
    wrk -t2 -c"$c" -d2s "${extra[@]}" "$url" >/dev/null   # warm-up
    local before=0; [ $# -gt 0 ] && before="$(ticks "$@")"
    local conns_file="$work/conns" sampler=""
    echo "-" >"$conns_file"
    if [ $# -gt 0 ]; then
        # Halfway through the run: how many connections to the fake are open.
        ( sleep "$(awk -v d="${d%s}" 'BEGIN { print d / 2 }')"; upstream_conns "$fport" "$@" >"$conns_file" ) &
        sampler=$!
    fi
    local counter=""
    if [ $# -gt 0 ] && [ -n "$perf_ok" ]; then
        perf stat -x, -e raw_syscalls:sys_enter -p "$(IFS=,; echo "$*")" -o "$work/perf.out" &
        counter=$!
    fi
    local out; out="$(wrk -t2 -c"$c" -d"$d" --latency "${extra[@]}" "$url")"
    [ -z "$sampler" ] || wait "$sampler"
    if [ -n "$counter" ]; then kill -INT "$counter"; wait "$counter" 2>/dev/null || true; fi
    local after=0; [ $# -gt 0 ] && after="$(ticks "$@")"
    local n; n="$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')"
    rps="$(echo "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')"
    p50="$(echo "$out" | awk '$1 == "50%" {print $2}')"
    p99="$(echo "$out" | awk '$1 == "99%" {print $2}')"
    errors="$(echo "$out" | awk '/Socket errors/ {gsub(",", ""); e += $4 + $6 + $8 + $10} /Non-2xx/ {e += $5} END {print e + 0}')"
    cpu_us="-"
    [ $# -gt 0 ] && cpu_us="$(awk -v t="$((after - before))" -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f", t / hz / n * 1e6 }')"
    conns_seen="$(cat "$conns_file")"
    syscalls="-"
    [ -z "$counter" ] || syscalls="$(awk -F, -v n="$n" '/raw_syscalls/ && $1 + 0 > 0 { printf "%.1f", $1 / n }' "$work/perf.out")"
}

# The port and processes of WHO among the proxies of a regime, started on
# BASE (zoho-proxy-h2), BASE+2 (zoho-proxy-h1), BASE+8 (zoho-proxy-h2-1w, near
# only: W1) and BASE+1 (nginx, whose master is NGX): sets port and procs.
pick() {
    local who=$1 base=$2 h2=$3 h1=$4 ngx=$5 w1=${6:-}
    case $who in
        zoho-proxy-h2) port=$base; procs=("$h2") ;;
        zoho-proxy-h2-1w) port=$((base + 8)); procs=("$w1") ;;
        zoho-proxy-h1) port=$((base + 2)); procs=("$h1") ;;
        nginx) port=$((base + 1)); mapfile -t procs < <(family "$ngx" | tr ' ' '\n') ;;
    esac
}

# Milliseconds from wrk's latency text (e.g. 1.23ms, 540.00us, 1.01s).
ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'; }

echo "# zoho-proxy vs nginx, $(date -u +%Y-%m-%d), $(nproc) cores, load $(load) at start" | tee -a "$results"

# ---------------------------------------------------------------- near
start_fake near
near_dir=$fake_dir near_url=$url near_port=$fake_port
near_token="$(token_of "$near_dir" "$near_url")"
zp_config "$work/near-h2.toml" "$near_dir" "$near_url" 18080 1 http2
zp_config "$work/near-h1.toml" "$near_dir" "$near_url" 18082 1 http1
start_zp "$work/near-h2.toml" 18080; zp_h2=$zp_pid
start_zp "$work/near-h1.toml" 18082; zp_h1=$zp_pid
zp_config "$work/near-h2-1w.toml" "$near_dir" "$near_url" 18088 1 http2 1
start_zp "$work/near-h2-1w.toml" 18088; zp_w1=$zp_pid
start_nginx nginx-near "$near_dir" "$near_port" 18081 "$near_token"; ngx=$nginx_pid
row ""
row "## Near upstream: wrk -t2 -c$conns -d$duration GET /crm/v8/Leads, $runs rounds"
row ""
row "| round | proxy | load | req/s | p50 ms | p99 ms | CPU µs/req | syscalls/req | peak RSS MiB | upstream conns |"
row "|---|---|---|---|---|---|---|---|---|---|"
for ((r = 1; r <= runs; r++)); do
    for who in zoho-proxy-h2 zoho-proxy-h2-1w zoho-proxy-h1 nginx; do
        pick "$who" 18080 "$zp_h2" "$zp_h1" "$ngx" "$zp_w1"
        l="$(load)"
        reset_peak "${procs[@]}"
        measure "http://127.0.0.1:$port/crm/v8/Leads" "$conns" "$duration" "$near_port" "${procs[@]}"
        row "| $r | $who | $l | $rps | $(ms "$p50") | $(ms "$p99") | $cpu_us | $syscalls | $(peak_mib "${procs[@]}") | $conns_seen |"
    done
done

# ---------------------------------------------------------------- flat
if [[ "$skip" != *" flat "* ]]; then
    zp_config "$work/near-many.toml" "$near_dir" "$near_url" 18083 "$routes" http2
    start_zp "$work/near-many.toml" 18083; zp_many=$zp_pid
    row ""
    row "## Flat cost: CPU per request (wrk -c$conns -d$duration, zoho-proxy, HTTP/2 upstream)"
    row ""
    row "| setting | load | req/s | p99 ms | CPU µs/req |"
    row "|---|---|---|---|---|"
    for ((r = 1; r <= runs; r++)); do
        measure "http://127.0.0.1:18080/crm/v8/Leads" "$conns" "$duration" "$near_port" "$zp_h2"
        row "| 1 route (round $r) | $(load) | $rps | $(ms "$p99") | $cpu_us |"
        measure "http://127.0.0.1:18083/crm/v8/Leads" "$conns" "$duration" "$near_port" "$zp_many"
        row "| $routes routes, the match last (round $r) | $(load) | $rps | $(ms "$p99") | $cpu_us |"
    done
    # The proxy closes a keep-alive connection that sends nothing for 30 s
    # (hyper's header read timeout), so each round opens its idle ones afresh.
    for ((r = 1; r <= runs; r++)); do
        open_idle 18080
        measure "http://127.0.0.1:18080/crm/v8/Leads" "$conns" "$duration" "$near_port" "$zp_h2"
        row "| 1 route + $idle idle keep-alive connections (round $r) | $(load) | $rps | $(ms "$p99") | $cpu_us |"
        close_idle
    done
    kill "$zp_many" 2>/dev/null || true
fi

# ---------------------------------------------------------------- far
if [[ "$skip" != *" far "* ]]; then
    start_fake far --delay "$far_delay"
    far_dir=$fake_dir far_url=$url far_port=$fake_port
    far_token="$(token_of "$far_dir" "$far_url")"
    zp_config "$work/far-h2.toml" "$far_dir" "$far_url" 18090 1 http2
    zp_config "$work/far-h1.toml" "$far_dir" "$far_url" 18092 1 http1
    start_zp "$work/far-h2.toml" 18090; far_h2=$zp_pid
    start_zp "$work/far-h1.toml" 18092; far_h1=$zp_pid
    start_nginx nginx-far "$far_dir" "$far_port" 18091 "$far_token"; far_ngx=$nginx_pid
    for fc in $far_conns; do
        row ""
        row "## Far upstream: the fake answers after $far_delay; wrk -t2 -c$fc -d$duration"
        row ""
        row "| round | client of the fake | load | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | errors | CPU µs/req | peak RSS MiB | upstream conns |"
        row "|---|---|---|---|---|---|---|---|---|---|---|---|"
        for ((r = 1; r <= runs; r++)); do
            l="$(load)"
            WRK_HEADER="Authorization: Zoho-oauthtoken $far_token" \
                measure "$far_url/crm/v8/Leads" "$fc" "$duration" "$far_port"
            d50="$(ms "$p50")" d99="$(ms "$p99")"
            row "| $r | direct (wrk over TLS) | $l | $rps | $d50 | $d99 | — | — | $errors | — | — | $fc |"
            for who in zoho-proxy-h2 zoho-proxy-h1 nginx; do
                pick "$who" 18090 "$far_h2" "$far_h1" "$far_ngx"
                l="$(load)"
                reset_peak "${procs[@]}"
                measure "http://127.0.0.1:$port/crm/v8/Leads" "$fc" "$duration" "$far_port" "${procs[@]}"
                row "| $r | $who | $l | $rps | $(ms "$p50") | $(ms "$p99") | $(awk -v a="$(ms "$p50")" -v b="$d50" 'BEGIN { printf "%+.2f", a - b }') | $(awk -v a="$(ms "$p99")" -v b="$d99" 'BEGIN { printf "%+.2f", a - b }') | $errors | $cpu_us | $(peak_mib "${procs[@]}") | $conns_seen |"
            done
        done
    done
fi

# ---------------------------------------------------------------- memory
if [[ "$skip" != *" memory "* ]]; then
    size=$((256 << 20))
    truncate -s "$size" "$work/upload.bin"
    zp_config "$work/stream.toml" "$near_dir" "$near_url" 18084 1 http2
    start_zp "$work/stream.toml" 18084; zp_stream=$zp_pid
    start_nginx nginx-stream "$near_dir" "$near_port" 18085 "$near_token"; ngx_stream=$nginx_pid
    row ""
    row "## Memory: a 256 MiB upload and a 256 MiB download at once"
    row ""
    row "| proxy | peak RSS MiB (whole life) | upload | download |"
    row "|---|---|---|---|"
    for who in zoho-proxy nginx; do
        case $who in
            zoho-proxy) port=18084; procs=($zp_stream) ;;
            nginx) port=18085; procs=($(family "$ngx_stream")) ;;
        esac
        curl -s -o /dev/null -w '%{http_code}, %{size_upload} bytes' -X POST \
            -H 'Content-Type: application/octet-stream' -T "$work/upload.bin" \
            "http://127.0.0.1:$port/crm/v8/Leads" >"$work/up.txt" &
        upload=$!
        down="$(curl -s -o /dev/null -w '%{http_code}, %{size_download} bytes' "http://127.0.0.1:$port/crm/v8/Leads?fake_bytes=$size")"
        wait "$upload"
        row "| $who | $(peak_mib "${procs[@]}") | $(cat "$work/up.txt") | $down |"
    done
fi

# ---------------------------------------------------------------- cost
if [[ "$skip" != *" cost "* ]]; then
    row ""
    row "## Per request, counted by callgrind: $cg_requests sequential keep-alive GETs"
    row ""
    row "| proxy | instructions/request | allocations/request |"
    row "|---|---|---|"
    # Runs PORT's process (already started under callgrind as $1) through the
    # requests, counting only them: zero, drive, dump.
    count() {
        local pid=$1 port=$2 name=$3 n=${4:-$cg_requests} warm=${5:-200}
        python3 "$bench/seq_client.py" "$port" /crm/v8/Leads "$warm"
        callgrind_control -z "$pid" >/dev/null 2>&1
        python3 "$bench/seq_client.py" "$port" /crm/v8/Leads "$n"
        callgrind_control -d "$pid" >/dev/null 2>&1
        sleep 1
        local dump; dump="$(ls -t "$work"/cg."$name".* | head -1)"
        row "| $name | $(python3 "$bench/callgrind_totals.py" "$dump" "$n" | awk '{print $1 " | " $3}') |"
        kill "$pid" 2>/dev/null || true
    }
    # The idle variant counts fewer requests, right after its connections
    # (which warmed the proxy up) are open: they must stay open (30 s) while
    # the proxy, many times slower under callgrind, serves the requests.
    for variant in "zoho-proxy-h2 1 http2" "zoho-proxy-h1 1 http1" \
        "zoho-proxy-h2-${routes}-routes $routes http2" "zoho-proxy-h2-${idle}-idle 1 http2 300"; do
        set -- $variant
        zp_config "$work/cg-$1.toml" "$near_dir" "$near_url" 18086 "$2" "$3"
        start_zp "$work/cg-$1.toml" 18086 valgrind --tool=callgrind --callgrind-out-file="$work/cg.$1.%p"
        if [ -n "${4:-}" ]; then
            open_idle 18086
            count "$zp_pid" 18086 "$1" "$4" 1
            close_idle
        else
            count "$zp_pid" 18086 "$1"
        fi
        wait "$zp_pid" 2>/dev/null || true
    done
    # nginx as one process (no master, no daemon) so callgrind sees all of it.
    nginx_conf nginx-cg "$near_dir" "$near_port" 18087 "$near_token" "daemon off; master_process off;"
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.nginx.%p" \
        nginx -c "$work/nginx-cg.conf" -p "$work/nginx-cg" 2>/dev/null &
    cg_nginx=$!
    pids+=("$cg_nginx")
    wait_ready 18087
    count "$cg_nginx" 18087 nginx
fi

# The tables above are Markdown; RESULTS=file keeps a copy of them.
[ -z "${RESULTS:-}" ] || cp "$results" "$RESULTS"
