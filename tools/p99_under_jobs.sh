#!/usr/bin/env bash
# The public reads' latency while heavy jobs run: serves a generated pool of
# TARGETS businesses (default 1,000,000) from a release build, measures the
# home page, a draw page, the ledger head and search with wrk, first idle,
# then while ad-hoc draws of the quarterly plan (announce + draw, as jobs)
# run back to back through the service.
#
#   cargo build --release && tools/p99_under_jobs.sh [TARGETS]
#
# Needs wrk. Everything is made in a temporary folder and removed after.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=${1:-1000000}
bin=$PWD/target/release/shuangsui
port=${P99_PORT:-18099}
base=http://127.0.0.1:$port
work=$(mktemp -d)
token=p99-measurement-operator-token
server=
loop=
cleanup() {
    # The loop's own children first, so none asks a stopped server.
    [ -n "$loop" ] && { pkill -P "$loop" 2>/dev/null; kill "$loop" 2>/dev/null; } || true
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The README's national-scale proportions: 148 officers and 330 conflicts
# per 10,000 businesses.
"$bin" gen-data --out "$work/pools" --targets "$targets" \
    --inspectors $((targets * 148 / 10000)) --conflicts $((targets * 33 / 1000)) >/dev/null
mkdir -p "$work/plans"
cp config/plans/quarterly-scjg.toml "$work/plans/"
cat >"$work/shuangsui.toml" <<EOF
listen = "127.0.0.1:$port"
data_dir = "$work/state"
pools_dir = "$work/pools"
plans_dir = "$work/plans"
holidays_dir = "$PWD/config/holidays"
EOF
SHUANGSUI_OPERATOR_TOKEN=$token RUST_LOG=warn "$bin" serve --config "$work/shuangsui.toml" &
server=$!
until curl -sf "$base/healthz" >/dev/null; do sleep 0.2; done

operator() { curl -sS -H "authorization: Bearer $token" -H 'content-type: application/json' "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
# Waits for a job; prints the state it ended in.
wait_job() {
    while :; do
        state=$(operator "$base/api/v1/jobs/$1" | json "['state']")
        case $state in queued | running) sleep 0.2 ;; *) echo "$state" && return ;; esac
    done
}
adhoc() {
    operator -D - -o /dev/null -H 'prefer: respond-async' -d '{"plan": "quarterly-scjg"}' \
        "$base/api/v1/adhoc-draws" | tr -d '\r' | sed -n 's/^job-id: //Ip'
}

# One draw first, so there is a draw page to read.
start=$(date +%s.%N)
first=$(adhoc)
[ "$(wait_job "$first")" = succeeded ] || { operator "$base/api/v1/jobs/$first"; exit 1; }
echo "one ad-hoc draw of the quarterly plan on $targets targets: $(echo "$(date +%s.%N) - $start" | bc) s"
bundle=$(operator "$base/api/v1/jobs/$first" | json "['outcome']['bundle']")

endpoints=("/" "/draws/$bundle" "/api/v1/ledger/head" "/api/v1/search?q=%E7%BA%A2%E6%9E%9C")
measure() {
    for path in "${endpoints[@]}"; do
        # Once first, so the figures are of a page already read: the first
        # read of a national-scale list (about a second) is reported above.
        curl -sf -o /dev/null "$base$path"
        line=$(wrk -t2 -c16 -d8s --latency "$base$path" | awk '
            /Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
            END {printf "%s req/s, p50 %s, p99 %s", rps, p50, p99}')
        printf '  %-40s %s\n' "${path:0:40}" "$line"
    done
}

echo "idle:"
measure

# Draws back to back for as long as the second measurement runs.
(
    n=0
    while :; do
        id=$(adhoc)
        s=$(date +%s.%N)
        state=$(wait_job "$id")
        n=$((n + 1))
        echo "  draw job $n: $state in $(echo "$(date +%s.%N) - $s" | bc) s" >&2
    done
) &
loop=$!
sleep 1
echo "while ad-hoc draws of $targets targets run back to back:"
measure
