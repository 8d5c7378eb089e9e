# Sourced by the bench scripts (from the repository's root).
#
#   bench_setup           the release build (unless ZP_TARGET names a target
#                         dir holding one): sets $target; a work dir $work and
#                         a `pids` array, killed and removed on exit (and the
#                         script's `on_exit` function run, if it has one).
#   start_fake [NAME [ARG...]]
#                         starts examples/fake_zoho in $work/NAME (default
#                         fake; ARGs to it, e.g. --delay 50ms): accounts +
#                         API over TLS with a throwaway CA. Sets $url,
#                         $fake_port and $fake_dir.
#   fake_field KEY [DIR]  a value of the config the fake in DIR ($work/fake)
#                         wrote (its credentials).
#   proxy_toml PORT ADMIN [EXTRA]
#                         prints a zoho-proxy config in front of it: listen
#                         127.0.0.1:PORT, admin ADMIN, one catalog-checked
#                         route for all of CRM, no concurrency limit in the
#                         way, EXTRA lines at the end.

bench_setup() {
    [ -n "${ZP_TARGET:-}" ] || cargo build --release --bins --examples >/dev/null
    target="${ZP_TARGET:-target}"
    work="$(mktemp -d)"
    pids=()
    trap bench_cleanup EXIT
}

bench_cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    if declare -F on_exit >/dev/null; then on_exit; fi
    # The killed processes may still be writing their logs into $work.
    wait 2>/dev/null || true
    rm -rf "$work" || true
}

start_fake() {
    local name=${1:-fake}
    if [ $# -gt 0 ]; then shift; fi
    "$target"/release/examples/fake_zoho "$work/$name" "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do grep -q "fake Zoho at" "$work/$name.log" 2>/dev/null && break; sleep 0.1; done
    url="$(sed -n 's/^fake Zoho at \(https:[^;]*\);.*/\1/p' "$work/$name.log")"
    fake_port="${url##*:}"
    fake_dir="$work/$name"
}

fake_field() { sed -n "s/^$1 = \"\(.*\)\"$/\1/p" "${2:-$work/fake}/proxy.toml"; }

proxy_toml() {
    cat <<TOML
[server]
listen = "127.0.0.1:$1"
[admin]
listen = "$2"
[zoho]
client_id = "$(fake_field client_id)"
client_secret = "$(fake_field client_secret)"
refresh_token = "$(fake_field refresh_token)"
accounts_url = "$url"
api_url = "$url"
ca_file = "$work/fake/ca.pem"
[rate_limit]
max_concurrent = 10000
[[routes]]
name = "crm"
path = "/crm/**"
scopes = ["ZohoCRM.modules.ALL"]
${3:-}
TOML
}
