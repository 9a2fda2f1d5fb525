#!/usr/bin/env bash
# browser-check.sh — end-to-end check of the demo with curl and a real browser.
#
# Builds the demo, serves webapp/ on a free local port with RUST_LOG=debug and
# checks, from the client side and from the server's own log, that:
#   1. curl fetches two URLs over one kept-alive connection;
#   2. headless Chromium renders the page, the live counters hold numbers
#      that came from the /_status event stream (the page marks
#      data-source="stream" on <body>; "poll" would mean it fell back to
#      polling), and a screenshot goes to docs/webapp.png;
#   3. every asset the browser asked for was answered 200, and the browser
#      sent more requests than it opened connections (keep-alive worked);
#   4. a page load whose requests say "Accept-Encoding: gzip, br" gets every
#      text asset compressed (Content-Encoding as the browser saw it).
#   5. with --experiment (a server of its own), the page's control sets 1,000
#      idle connections per server, and the page then shows the NIO server
#      holding them with its threads unchanged while the thread-per-connection
#      server has every thread taken and a fresh request gets no answer; a
#      screenshot goes to docs/experiment.png, and no child process outlives
#      the server.
#
# Meant for a fresh Debian machine, run as root: installs chromium and curl
# from Debian's mirrors if they are missing. Needs a Rust toolchain (cargo).
# Prints "browser-check: OK" last and exits 0 when everything holds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# The page's own assets; anything else the browser asks for is reported.
ASSETS=(/ /css/styles.css /js/app.js /favicon.svg /_status)
# Counters the brief names explicitly; every [data-counter] is checked anyway.
REQUIRED_COUNTERS=(open idle busy streaming workers-busy workers requests)

# Time limits (seconds). Each step is bounded so that the whole run after the
# build stays well under three minutes even when something hangs.
SERVER_START_TIMEOUT=15
CURL_TIMEOUT=10
CHROMIUM_TIMEOUT=45
CLOSE_WAIT_TIMEOUT=8
# What the page must show before Chromium dumps / shoots it, in seconds of
# /_status events after the first one (real time: the page keeps its event
# stream open, and Chromium's virtual time never runs while a fetch is
# pending). The page marks itself ready after the first event; 2 more show
# the server's ticker at work, and the screenshot waits for 8 so the chart
# shows a visible line.
DOM_TICKS=2
SHOT_TICKS=8
WINDOW_SIZE=1280,900

WORK=$(mktemp -d /tmp/browser-check.XXXXXX)
LOG="$WORK/server.log"
SERVER_PID=""
PORT=""
BASE=""
FAILED=1 # cleared right before the final OK

# ---------------------------------------------------------------- helpers

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
die() {
    printf '\nbrowser-check: FAILED: %s\n' "$*" >&2
    exit 1
}

cleanup() {
    local status=$?
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        # SIGTERM asks for a graceful shutdown; don't wait on it forever.
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    stop_experiment_server
    if ((FAILED)); then
        # Keep the evidence when something went wrong.
        if [[ -s "$LOG" ]]; then
            printf '\n-- last lines of the server log (%s):\n' "$LOG" >&2
            tail -n 25 "$LOG" >&2
        fi
        printf '(work files kept in %s)\n' "$WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Lines currently in the server log: taken before a client runs, so that the
# client's own lines can be cut out afterwards with log_since.
log_lines() { wc -l <"$LOG" | tr -d ' '; }
log_since() { tail -n "+$(($1 + 1))" "$LOG"; }

# ---------------------------------------------------------------- 1. packages

ensure_packages() {
    step "packages"
    local missing=()
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    if ((${#missing[@]} == 0)); then
        say "chromium and curl already installed"
    else
        [[ $EUID -eq 0 ]] || die "need root to install: ${missing[*]}"
        command -v apt-get >/dev/null 2>&1 || die "no apt-get; install ${missing[*]} by hand"
        # --no-install-recommends keeps out upower, udev, mesa, printer tools
        # and the like, which a headless run never uses; but the recommended
        # fonts-liberation is what gives the screenshot proper text metrics.
        [[ " ${missing[*]} " == *" chromium "* ]] && missing+=(fonts-liberation)
        say "installing ${missing[*]} with apt-get"
        local t0=$SECONDS
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >"$WORK/apt.log" 2>&1 ||
            { cat "$WORK/apt.log" >&2; die "apt-get update failed"; }
        apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" \
            >>"$WORK/apt.log" 2>&1 ||
            { tail -n 30 "$WORK/apt.log" >&2; die "apt-get install failed"; }
        say "installed in $((SECONDS - t0))s"
    fi
    # The Debian wrapper prints a harmless shell warning on some machines;
    # keep only the version line.
    say "$(chromium --version 2>/dev/null | grep -i chromium | head -n 1)"
    say "$(curl --version | head -n 1)"
}

# ---------------------------------------------------------------- 2. server

build_demo() {
    step "build"
    command -v cargo >/dev/null 2>&1 || die "cargo not found: install a Rust toolchain (https://rustup.rs)"
    local t0=$SECONDS
    if ! cargo build --release -p nioserve-demo >"$WORK/build.log" 2>&1; then
        tail -n 40 "$WORK/build.log" >&2
        die "cargo build failed"
    fi
    tail -n 1 "$WORK/build.log"
    [[ -x target/release/nioserve ]] || die "target/release/nioserve was not built"
    say "built in $((SECONDS - t0))s"
}

# Start the server on the first port from 18080 up that it can bind. Letting
# the server itself try the port (rather than probing first) has no race with
# other processes and needs nothing beyond bash.
start_server() {
    step "server"
    local port
    for port in $(seq 18080 18179); do
        : >"$LOG"
        RUST_LOG=debug target/release/nioserve webapp --addr "127.0.0.1:$port" --access-log log >>"$LOG" 2>&1 &
        SERVER_PID=$!
        if wait_for_status "$port"; then
            PORT=$port
            BASE="http://127.0.0.1:$PORT"
            say "nioserve pid $SERVER_PID serving webapp/ on $BASE (log: $LOG)"
            return
        fi
        # It exited: busy port → try the next one; anything else is fatal.
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
        grep -q "cannot listen" "$LOG" || { cat "$LOG" >&2; die "nioserve did not start"; }
    done
    die "no free port in 18080-18179"
}

# Succeeds once GET /_status answers; fails as soon as the server process is
# gone; dies at the deadline.
wait_for_status() {
    local deadline=$((SECONDS + SERVER_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        # The banner first: another server on the port would answer /_status too.
        if grep -q "on http://127.0.0.1:$1/" "$LOG" &&
            curl -sf --max-time 1 "http://127.0.0.1:$1/_status" -o /dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "/_status did not answer within ${SERVER_START_TIMEOUT}s"
}

# A client's connections are logged as closed once it has gone; waiting for
# that makes sure every access line of the run is in the log before counting.
# Chromium closes its sockets when it exits; the keep-alive timeout (5 s by
# default) catches any it leaves behind.
wait_for_closes() {
    local since=$1 deadline=$((SECONDS + CLOSE_WAIT_TIMEOUT)) opened closed
    while :; do
        opened=$(log_since "$since" | grep -c 'New client: ' || true)
        closed=$(log_since "$since" | grep -c ': closed (' || true)
        ((closed >= opened)) && return 0
        if ((SECONDS >= deadline)); then
            say "warning: $((opened - closed)) connection(s) still open after ${CLOSE_WAIT_TIMEOUT}s"
            return 0
        fi
        sleep 0.1
    done
}

# ---------------------------------------------------------------- 3. curl

check_curl() {
    step "curl: two URLs, one connection"
    local since out reused ok200
    since=$(log_lines)
    out=$(curl -sv --max-time "$CURL_TIMEOUT" "$BASE/" "$BASE/css/styles.css" \
        -o /dev/null -o /dev/null 2>&1) || { say "$out"; die "curl failed"; }
    # Wording differs across curl versions: "Re-using existing connection!",
    # "Re-using existing connection #0", "Reusing existing http: connection".
    grep -E 'Connected to|Re-?using existing|^< HTTP/' <<<"$out" | sed 's/^/  /'
    reused=$(grep -cE 'Re-?using existing (http: )?connection' <<<"$out" || true)
    ok200=$(grep -cE '^< HTTP/1\.1 200' <<<"$out" || true)
    ((reused >= 1)) || die "curl did not re-use the connection"
    ((ok200 == 2)) || die "expected two 'HTTP/1.1 200' responses, got $ok200"

    wait_for_closes "$since"
    local conns reqs
    conns=$(log_since "$since" | grep -c 'New client: ' || true)
    reqs=$(log_since "$since" | grep -c 'nioserve::access\]' || true)
    say "server log: $reqs requests on $conns connection(s)"
    CURL_SUMMARY="$reqs $conns"
}

# ---------------------------------------------------------------- 4. browser

# True in the page once its numbers come from the event stream and TICKS
# more events have arrived since the first (uptime has moved on by TICKS s).
until_ticks() {
    printf '%s' "(() => { const b = document.body.dataset;
        if (b.ready !== '1' || b.source !== 'stream') return false;
        const up = Number(document.getElementById('uptime').dataset.value);
        window.__firstUptime ??= up;
        return up >= window.__firstUptime + $1; })()"
}

# chromium with the flags this check is defined by and a fresh profile,
# driven by scripts/browser_page.py (URL, --until JS, --dom / --shot FILE),
# under a hard time limit (timeout signals the whole process group).
run_chromium() {
    local name=$1
    shift
    local profile="$WORK/profile-$name"
    mkdir -p "$profile"
    timeout -k 5 "$CHROMIUM_TIMEOUT" python3 scripts/browser_page.py "$@" --timeout 30 --size "$WINDOW_SIZE" -- chromium \
        --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run \
        --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" \
        --window-size="$WINDOW_SIZE" --user-data-dir="$profile" \
        2>"$WORK/chromium-$name.err"
}

check_dom() {
    step "browser: rendered DOM"
    local since dom t0=$SECONDS
    since=$(log_lines)
    if ! run_chromium dom "$BASE/" --until "$(until_ticks "$DOM_TICKS")" --dom "$WORK/dom.html"; then
        tail -n 20 "$WORK/chromium-dom.err" >&2
        die "chromium: no DOM with $DOM_TICKS streamed updates, or timed out (${CHROMIUM_TIMEOUT}s)"
    fi
    say "chromium DOM dump took $((SECONDS - t0))s"
    dom=$(<"$WORK/dom.html")
    [[ -n "$dom" ]] || die "chromium dumped an empty DOM"

    # js/app.js sets data-ready="1" on <body> after the first good /_status,
    # and data-source to where the numbers came from: "stream" (EventSource)
    # or "poll" (the fallback).
    local body
    body=$(grep -oE '<body[^>]*>' <<<"$dom" | head -n 1 || true)
    say "  $body"
    [[ "$body" == *'data-ready="1"'* ]] || die "page never became ready (no data-ready=\"1\" on <body>)"
    [[ "$body" == *'data-source="stream"'* ]] ||
        die "the counters did not come from the /_status event stream (no data-source=\"stream\" on <body>)"

    # Every counter element must carry its raw number in data-value and show
    # something other than the placeholder "–".
    local elements el id key value text n=0 bad=0 seen=" "
    elements=$(grep -oE '<[a-z]+ [^>]*data-counter="[^"]*"[^>]*>[^<]*' <<<"$dom" || true)
    [[ -n "$elements" ]] || die "no [data-counter] elements in the DOM"
    while IFS= read -r el; do
        id=$(sed -nE 's/.* id="([^"]*)".*/\1/p' <<<"$el")
        key=$(sed -nE 's/.*data-counter="([^"]*)".*/\1/p' <<<"$el")
        value=$(sed -nE 's/.*data-value="([^"]*)".*/\1/p' <<<"$el")
        text=${el##*>}
        n=$((n + 1))
        seen+="$id "
        if [[ "$value" =~ ^[0-9]+(\.[0-9]+)?$ && -n "$text" && "$text" != "–" ]]; then
            printf '  %-13s %-17s data-value=%-6s shown as %s\n' "#$id" "$key" "$value" "$text"
        else
            printf '  %-13s %-17s data-value=%-6s shown as %s   <-- not a number\n' \
                "#$id" "$key" "${value:-(none)}" "${text:-(empty)}"
            bad=$((bad + 1))
        fi
    done <<<"$elements"
    ((bad == 0)) || die "$bad of $n counters hold no number"
    for id in "${REQUIRED_COUNTERS[@]}"; do
        [[ "$seen" == *" $id "* ]] || die "counter #$id missing from the page"
    done
    say "all $n counters hold numbers"

    wait_for_closes "$since"
    summarize_run dom "$since"
}

check_screenshot() {
    step "browser: screenshot"
    local since shot="$WORK/webapp.png" t0=$SECONDS
    since=$(log_lines)
    if ! run_chromium shot "$BASE/" --until "$(until_ticks "$SHOT_TICKS")" --shot "$shot" >/dev/null; then
        tail -n 20 "$WORK/chromium-shot.err" >&2
        die "chromium: no screenshot with $SHOT_TICKS streamed updates, or timed out (${CHROMIUM_TIMEOUT}s)"
    fi
    say "chromium screenshot took $((SECONDS - t0))s"
    [[ -s "$shot" ]] || die "chromium wrote no screenshot"
    # PNG signature, then the IHDR chunk's width and height (big-endian).
    [[ "$(od -An -tx1 -N8 "$shot" | tr -d ' \n')" == 89504e470d0a1a0a ]] || die "screenshot is not a PNG"
    local w h
    read -r w h < <(od -An -tu1 -j16 -N8 "$shot" |
        awk '{print $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}')
    [[ "$w,$h" == "$WINDOW_SIZE" ]] || die "screenshot is ${w}x${h}, expected ${WINDOW_SIZE/,/x}"
    # Replace docs/webapp.png only with a screenshot that passed the checks.
    mkdir -p docs
    cp "$shot" docs/webapp.png
    say "docs/webapp.png: ${w}x${h}, $(wc -c <docs/webapp.png | tr -d ' ') bytes"

    wait_for_closes "$since"
    summarize_run shot "$since"
}

# Chromium sends no `br` over plain http, and headless runs may send less:
# the header is set explicitly, and what came back is read from the
# browser's own Network.responseReceived events.
COMPRESSED_ASSETS=(/ /css/styles.css /js/app.js /favicon.svg)

check_compression() {
    step "browser: compressed text assets"
    local responses="$WORK/responses.json"
    if ! run_chromium enc "$BASE/" --until "$(until_ticks 0)" \
        --header "Accept-Encoding: gzip, br" --responses "$responses" >/dev/null; then
        tail -n 20 "$WORK/chromium-enc.err" >&2
        die "chromium: the page did not load with Accept-Encoding: gzip, br"
    fi
    python3 - "$responses" "$BASE" "${COMPRESSED_ASSETS[@]}" <<'PY' || die "a text asset arrived uncompressed"
import json, sys
responses, base, assets = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3:]
failed = 0
for asset in assets:
    seen = [r for r in responses if r["url"].split("?")[0] == base + asset]
    codings = [{k.lower(): v for k, v in r["headers"].items()}.get("content-encoding", "-") for r in seen]
    ok = seen and all(r["status"] == 200 for r in seen) and all(c in ("gzip", "br") for c in codings)
    print(f"  {asset:<18} {' '.join(codings) or 'never requested'}{'' if ok else '   <-- not compressed'}")
    failed += not ok
sys.exit(1 if failed else 0)
PY
}

# ---------------------------------------------------------------- 5. server log

# Per browser run: requests (access lines), connections (New client lines),
# statuses. Stored for the final table; fails on a non-200 asset or on no reuse.
declare -A RUN_REQS RUN_CONNS RUN_STATUSES
ALL_ACCESS=""
CURL_SUMMARY=""

summarize_run() {
    local name=$1 since=$2 slice access reqs conns statuses
    slice=$(log_since "$since")
    access=$(grep 'nioserve::access\]' <<<"$slice" || true)
    conns=$(grep -c 'New client: ' <<<"$slice" || true)
    reqs=$(grep -c . <<<"$access" || true)
    statuses=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /"$/ && $(i+1) ~ /^[0-9][0-9][0-9]$/) print $(i+1) }' \
        <<<"$access" | sort | uniq -c | awk '{printf "%s%s×%s", sep, $2, $1; sep=" "}')
    RUN_REQS[$name]=$reqs
    RUN_CONNS[$name]=$conns
    RUN_STATUSES[$name]=${statuses:-none}
    ALL_ACCESS+="$access"$'\n'

    ((reqs > 0)) || die "$name: the browser made no requests the server logged"
    ((reqs > conns)) ||
        die "$name: $reqs requests on $conns connections: the browser re-used no connection"
}

# The access line is: PEER "METHOD TARGET VERSION" STATUS BYTES TIME.
# Prints "path status" per request, query strings cut off.
access_paths() {
    sed -nE 's/.*nioserve::access\] [^ ]+ "[A-Z]+ ([^ ?"]*)[^"]*" ([0-9]{3}) .*/\1 \2/p' <<<"$ALL_ACCESS"
}

check_log() {
    step "server log: browser requests"
    local name path count non200 ok200 revalidated statuses failures=0 extra curl_reqs curl_conns
    printf '  %-12s %9s %12s  %s\n' run requests connections statuses
    for name in dom shot; do
        printf '  %-12s %9s %12s  %s\n' "$name" "${RUN_REQS[$name]}" "${RUN_CONNS[$name]}" "${RUN_STATUSES[$name]}"
    done
    read -r curl_reqs curl_conns <<<"$CURL_SUMMARY"
    printf '  %-12s %9s %12s  %s\n' "(curl)" "$curl_reqs" "$curl_conns" "(not part of the browser counts)"

    say ""
    printf '  %-18s %8s  %s\n' asset requests statuses
    for path in "${ASSETS[@]}"; do
        statuses=$(access_paths | awk -v p="$path" '$1 == p {print $2}' | sort | uniq -c |
            awk '{printf "%s%s×%s", sep, $2, $1; sep=" "}')
        count=$(access_paths | awk -v p="$path" '$1 == p' | wc -l | tr -d ' ')
        non200=$(access_paths | awk -v p="$path" '$1 == p && $2 != 200 && $2 != 304' | wc -l | tr -d ' ')
        ok200=$(access_paths | awk -v p="$path" '$1 == p && $2 == 200' | wc -l | tr -d ' ')
        revalidated=$(access_paths | awk -v p="$path" '$1 == p && $2 == 304' | wc -l | tr -d ' ')
        printf '  %-18s %8s  %s\n' "$path" "$count" "${statuses:-—}"
        # The page references every one of these (favicon.svg also as an <img>).
        if ((count == 0)); then
            say "  ^ never requested"
            failures=$((failures + 1))
        fi
        # Each run has a fresh profile with nothing cached, so a 304 is justified
        # only by a 200 for the same asset earlier in a run (favicon.svg is asked
        # for twice, and `Cache-Control: no-cache` has the second revalidated):
        # anything but 200, and more 304s than 200s, fails.
        if ((non200 > 0)); then
            say "  ^ $non200 answered other than 200 or 304"
            failures=$((failures + 1))
        fi
        if ((revalidated > ok200)); then
            say "  ^ $revalidated answered 304 with only $ok200 answered 200 to fetch it first"
            failures=$((failures + 1))
        fi
    done
    # Requests outside the page's own assets are reported, not failed: they
    # tell about the browser (e.g. /favicon.ico), not about the server.
    extra=$(access_paths | awk -v list=" ${ASSETS[*]} " 'index(list, " " $1 " ") == 0' | sort | uniq -c || true)
    if [[ -n "$extra" ]]; then
        say "  note: requests for other paths (count, path, status):"
        sed 's/^/    /' <<<"$extra"
    fi
    ((failures == 0)) || die "$failures asset check(s) failed, see the table above"
}

# ---------------------------------------------------------------- 6. experiment

# Self-contained: a server of its own, started with --experiment, its log in
# $WORK/experiment.log, stopped by stop_experiment_server (also from cleanup).
EXP_PID=""
EXP_IDLE=1000
# The blocking child's threads at the cap: its 200 connection threads, plus its
# main thread and the thread that watches its stdin for the demo's exit.
EXP_BLOCKING_THREADS=$((200 + 2))
# Samples (seconds) in the page's experiment charts before the screenshot.
EXP_SHOT_SAMPLES=12

stop_experiment_server() {
    [[ -n "$EXP_PID" ]] || return 0
    if kill -0 "$EXP_PID" 2>/dev/null; then
        kill -TERM "$EXP_PID" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$EXP_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$EXP_PID" 2>/dev/null || true
    fi
    wait "$EXP_PID" 2>/dev/null || true
    EXP_PID=""
}

# True once the page shows the experiment after the control was set: the
# expression records the NIO server's threads (once the page's own event
# stream is open and three samples are in), sets the control to EXP_IDLE and
# waits for the figures and a chart's worth of samples, then scrolls the panel
# into view for the screenshot.
until_experiment() {
    printf '%s' "(() => { const b = document.body.dataset;
        if (b.experiment !== '1' || b.source !== 'stream') return false;
        const v = (m, k) => document.querySelector('#exp-' + m + ' [data-exp=\"' + k + '\"]').dataset.value;
        const samples = Number(document.getElementById('exp-nio').dataset.samples);
        if (window.__nioThreads === undefined) {
            if (samples < 3 || !v('nio', 'threads')) return false;
            window.__nioThreads = v('nio', 'threads');
            window.__samplesAtSet = samples;
            const slider = document.getElementById('exp-idle');
            slider.value = '$EXP_IDLE';
            slider.dispatchEvent(new Event('change'));
            return false;
        }
        const shown = v('nio', 'held') === '$EXP_IDLE' && v('nio', 'threads') === window.__nioThreads
            && v('blocking', 'threads') === '$EXP_BLOCKING_THREADS' && v('blocking', 'latency') === 'none';
        if (!shown || samples < window.__samplesAtSet + $EXP_SHOT_SAMPLES) return false;
        document.getElementById('experiment').scrollIntoView();
        return true; })()"
}

check_experiment() {
    step "browser: the experiment (--experiment)"
    local port log="$WORK/experiment.log" t0=$SECONDS json pids pid
    for port in $(seq 18280 18379); do
        : >"$log"
        target/release/nioserve webapp --addr "127.0.0.1:$port" --experiment >>"$log" 2>&1 &
        EXP_PID=$!
        if curl -sf --retry 50 --retry-delay 0 --retry-max-time "$SERVER_START_TIMEOUT" --retry-connrefused \
            --max-time 1 "http://127.0.0.1:$port/_experiment" -o /dev/null &&
            # Ours, not another server that already had the port.
            kill -0 "$EXP_PID" 2>/dev/null && grep -q "on http://127.0.0.1:$port/" "$log"; then
            break
        fi
        stop_experiment_server
        grep -q "cannot listen" "$log" || { cat "$log" >&2; die "nioserve --experiment did not start"; }
    done
    [[ -n "$EXP_PID" ]] || die "no free port in 18280-18379 for the experiment"
    json=$(curl -sf --max-time "$CURL_TIMEOUT" "http://127.0.0.1:$port/_experiment") || die "GET /_experiment failed"
    pids=$(grep -oE '"(pid|client_pid)":[0-9]+' <<<"$json" | cut -d: -f2 | grep -vx "$EXP_PID" | tr '\n' ' ')
    say "nioserve --experiment pid $EXP_PID on 127.0.0.1:$port; children: $pids"

    if ! run_chromium experiment "http://127.0.0.1:$port/" --until "$(until_experiment)" \
        --dom "$WORK/experiment.html" --shot "$WORK/experiment.png"; then
        tail -n 20 "$WORK/chromium-experiment.err" >&2
        say "last /_experiment: $(curl -s --max-time 2 "http://127.0.0.1:$port/_experiment")"
        die "the page did not show $EXP_IDLE idle connections held by NIO with its threads unchanged, \
and the blocking server at $EXP_BLOCKING_THREADS threads with no answer (${CHROMIUM_TIMEOUT}s)"
    fi
    say "chromium took $((SECONDS - t0))s"
    # What the page showed, per server, from the dumped DOM.
    python3 - "$WORK/experiment.html" <<'PY'
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
for model in ("nio", "blocking"):
    part = html.split(f'id="exp-{model}"', 1)[1].split("</figure>", 1)[0]
    shown = dict(re.findall(r'data-exp="(\w+)"[^>]*>([^<]*)<', part))
    print(f"  {model:9}", "  ".join(f"{k}: {shown.get(k, '?')}" for k in ("held", "threads", "rss", "latency")))
PY
    [[ -s "$WORK/experiment.png" ]] || die "chromium wrote no experiment screenshot"
    cp "$WORK/experiment.png" docs/experiment.png
    say "docs/experiment.png: $(wc -c <docs/experiment.png | tr -d ' ') bytes"

    # Stopping the demo stops its children: none may be left running.
    stop_experiment_server
    for pid in $pids; do
        if [[ -r /proc/$pid/stat ]] && ! grep -qE '\) [ZX] ' "/proc/$pid/stat"; then
            die "child $pid of nioserve --experiment outlived it"
        fi
    done
    say "the demo and its children ($pids) are gone"
}

# ---------------------------------------------------------------- main

main() {
    local t_start=$SECONDS t_checks
    ensure_packages
    build_demo
    t_checks=$SECONDS
    start_server
    check_curl
    check_dom
    check_screenshot
    check_compression
    check_log
    check_experiment
    step "done"
    say "checks took $((SECONDS - t_checks))s after the build; $((SECONDS - t_start))s in all"
    FAILED=0
    say "browser-check: OK"
}

main "$@"
