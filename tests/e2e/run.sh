#!/usr/bin/env bash
# End-to-end browser test of the public pages: a member of the public finds a
# drawn business with the home page's search box, in headless Chromium, the
# largest draw page loads fast, and its "在浏览器中核验" button verifies the
# draw (the public copy alone, then with the pool files picked).
#
#   cargo build --release && tests/e2e/run.sh
#
# Installs what is missing (Debian's chromium, a CJK font, Node and curl with
# apt; playwright-core and axe-core into tests/e2e/node_modules with npm),
# starts `shuangsui serve` on a free port with a fresh data folder, announces
# and draws the quarterly plan through the operator API, substitutes an
# officer and publishes a result, then runs search.mjs (which also checks
# every public page at phone width and with axe-core).
# The last line is `N passed, M failed`; the exit status is non-zero if any
# check failed. The server is stopped and its folder removed on every exit.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
E2E=tests/e2e
BIN=target/release/shuangsui
TASK=PZ-SCJG-2026Q1
START=$SECONDS

passed=0
failed=0
ok() {
    passed=$((passed + 1))
    echo "ok   $*"
}
bad() {
    failed=$((failed + 1))
    echo "FAIL $*"
}
summary() {
    echo "run.sh took $((SECONDS - START)) s"
    echo "$passed passed, $failed failed"
}
die() {
    bad "$*"
    if [ -n "${WORK:-}" ] && [ -s "$WORK/server.log" ]; then
        echo "--- server log (last 20 lines) ---"
        tail -n 20 "$WORK/server.log"
    fi
    summary
    exit 1
}

# --- What the test needs, installed only if missing. ---
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
apt_updated=
apt_install() {
    if [ -z "$apt_updated" ]; then
        $SUDO apt-get update
        apt_updated=1
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}
[ -x /usr/bin/chromium ] || apt_install chromium
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
command -v curl >/dev/null || apt_install curl
# Without a CJK font Chromium draws every Chinese character as a box.
if ! command -v fc-list >/dev/null || [ -z "$(fc-list :lang=zh family)" ]; then
    apt_install fonts-noto-cjk
fi
if [ ! -f "$E2E/node_modules/playwright-core/package.json" ] || [ ! -f "$E2E/node_modules/axe-core/axe.min.js" ]; then
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$E2E" playwright-core@1 axe-core@4
fi
[ -x "$BIN" ] || die "$BIN is missing: run cargo build --release first"

# --- The server, on a free port with a fresh data folder. ---
WORK=$(mktemp -d -t shuangsui-e2e.XXXXXX)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

node_out() { node -e "$1" "${@:2}"; }
TOKEN=$(node_out 'process.stdout.write(require("crypto").randomBytes(16).toString("hex"))')
PORT=$(node_out 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})')
BASE="http://127.0.0.1:$PORT"
# The token goes to curl from a file, so it never shows in a process list.
(umask 077 && printf 'Authorization: Bearer %s\n' "$TOKEN" >"$WORK/auth-header")

SHUANGSUI_OPERATOR_TOKEN=$TOKEN "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

up=
for _ in $(seq 1 150); do
    kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited while starting"
    if [ "$(curl -s --max-time 1 "$BASE/healthz" || true)" = ok ]; then
        up=1
        break
    fi
    sleep 0.1
done
[ -n "$up" ] || die "no answer from $BASE/healthz within 15 s"
ok "server answers /healthz on $BASE"

# POST JSON with the operator token; prints the HTTP status, body to $2.
post() {
    curl -sS --max-time 60 -o "$2" -w '%{http_code}' -H @"$WORK/auth-header" \
        -H 'Content-Type: application/json' --data-binary "$3" "$BASE$1" || echo 000
}
# One value from a JSON file: `json FILE EXPR`, EXPR in JavaScript over `v`.
json() {
    node_out 'const v=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const r=eval(process.argv[2]);if(r===undefined)process.exit(1);process.stdout.write(String(r))' "$1" "$2"
}

# The shipped plan's own date has passed; a draw comes before its
# inspections, so this batch is dated a week ahead (Beijing time).
AHEAD=$(node_out 'process.stdout.write(new Date(Date.now()+7*864e5).toLocaleDateString("sv-SE",{timeZone:"Asia/Shanghai"}))')
status=$(post /api/v1/announcements "$WORK/announce.json" \
    "{\"plan\":\"quarterly-scjg\",\"inspection_date\":\"$AHEAD\",\"seed_method\":{\"kind\":\"commit\"}}")
[ "$status" = 201 ] || die "announce $TASK: HTTP $status $(head -c 300 "$WORK/announce.json" 2>/dev/null)"
ok "announced $TASK (HTTP 201)"

status=$(post /api/v1/draws "$WORK/draw.json" "{\"task_id\":\"$TASK\",\"seed\":{\"kind\":\"reveal\"}}")
[ "$status" = 200 ] || die "draw $TASK: HTTP $status $(head -c 300 "$WORK/draw.json" 2>/dev/null)"
BUNDLE=$(json "$WORK/draw.json" 'v.bundle') || die "the draw response names no bundle"
ok "drew $TASK into $BUNDLE (HTTP 200)"

status=$(curl -sS --max-time 30 -o "$WORK/rows.json" -w '%{http_code}' \
    "$BASE/api/v1/draws/$TASK/assignments?per_page=5" || echo 000)
[ "$status" = 200 ] || die "assignments of $TASK: HTTP $status"
# The last of the first five rows, so that the search must find more than row 1.
PICK='v.rows[Math.min(4, v.rows.length - 1)]'
NAME=$(json "$WORK/rows.json" "$PICK.name") || die "no drawn rows in $TASK"
CODE=$(json "$WORK/rows.json" "$PICK.credit_code") || die "no credit code in the rows of $TASK"
TOTAL=$(json "$WORK/rows.json" 'v.total')
ok "picked $NAME ($CODE) of $TOTAL drawn businesses"

# A substitution and a published result, so that the phone and
# accessibility checks see those lists with rows in them.
FIRST=$(json "$WORK/rows.json" 'v.rows[0].credit_code')
OUT=$(json "$WORK/rows.json" 'v.rows[0].team[0]')
status=$(post "/api/v1/draws/$TASK/substitutions" "$WORK/substitution.json" \
    "{\"credit_code\":\"$FIRST\",\"out\":\"$OUT\",\"reason\":\"leave\",\"note\":\"病假\"}")
[ "$status" = 201 ] || die "substitution on $FIRST: HTTP $status $(head -c 300 "$WORK/substitution.json" 2>/dev/null)"
ok "substituted officer $OUT on $FIRST (HTTP 201)"
TODAY=$(node_out 'process.stdout.write(new Date().toLocaleDateString("sv-SE",{timeZone:"Asia/Shanghai"}))')
status=$(post /api/v1/results "$WORK/result.json" \
    "{\"task_id\":\"$TASK\",\"credit_code\":\"$FIRST\",\"codes\":[\"1\"],\"inspection_date\":\"$TODAY\",\"methods\":[\"实地核查\"],\"follow_up\":\"\",\"closed\":true}")
[ "$status" = 201 ] || die "result for $FIRST: HTTP $status $(head -c 300 "$WORK/result.json" 2>/dev/null)"
status=$(post /api/v1/results/publish "$WORK/notice.json" "{\"task_id\":\"$TASK\"}")
[ "$status" = 201 ] || die "results notice of $TASK: HTTP $status $(head -c 300 "$WORK/notice.json" 2>/dev/null)"
ok "recorded and published the result of $FIRST"

# --- The browser. Its summary line is relabelled so that only the last line
# of this script reads `N passed, M failed`. ---
set +e
node "$E2E/search.mjs" "$BASE" "$NAME" "$CODE" "$BUNDLE" "$WORK/data/pools" 2>&1 | tee "$WORK/browser.out" |
    sed -E 's/^([0-9]+ passed, [0-9]+ failed)$/browser: \1/'
browser_rc=${PIPESTATUS[0]}
set -e
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK/browser.out" | tail -n 1 || true)
if [ -n "$line" ]; then
    read -r bp _ bf _ <<<"$line"
    passed=$((passed + bp))
    failed=$((failed + bf))
    if [ "$browser_rc" -ne 0 ] && [ "$bf" -eq 0 ]; then
        bad "search.mjs exited with status $browser_rc"
    fi
else
    bad "search.mjs ended without a summary (exit status $browser_rc)"
fi

kill -0 "$SERVER_PID" 2>/dev/null && ok "server still running after the browser run" || bad "the server died during the run"
summary
[ "$failed" -eq 0 ]
