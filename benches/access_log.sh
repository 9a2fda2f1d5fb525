#!/usr/bin/env bash
# What the access log costs: the demo with its default logging (an access-log line per
# request) with stderr on a terminal and to a file, against the same binary with logging
# off (RUST_LOG=warn), under the same wrk load.
#
#   benches/access_log.sh                        3 rounds of 5 s
#   OLD_BIN=/path/to/older/nioserve benches/access_log.sh
#                                                the same three for another build too
#
# The terminal is a pseudo-terminal made by `script` (util-linux), which copies what the
# server writes, as a terminal emulator would; its CPU is shared with the server and wrk,
# as a terminal's is. Each server serves a scratch copy of webapp/ with `--workers 2`;
# `wrk -t1 -c64 -d$DURATION /index.html` against each in turn, the order rotating each
# round; medians of the requests/s, and their ratios to logging off.
#
# Environment: DURATION (5s), ROUNDS (3), OLD_BIN, SKIP_BUILD=1, CARGO_TARGET_DIR. Needs
# Linux, python3, wrk and script (installed with apt-get when missing and run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
# shellcheck source=benches/lib.sh
. "$REPO/benches/lib.sh"

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}/release

say() { printf 'access_log.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

case $ROUNDS in '' | *[!0-9]*) die "ROUNDS must be a whole number" ;; esac
need_tools wrk script:bsdutils
WRK=$(find_tool wrk)
command -v python3 >/dev/null || die "python3 is needed for the summary"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  say "building (cargo build --release --bin nioserve)"
  cargo build --release --bin nioserve --quiet
fi
NEW=$TARGET/nioserve
[ -x "$NEW" ] || die "$NEW is missing (build failed?)"
[ -z "${OLD_BIN:-}" ] || [ -x "$OLD_BIN" ] || die "OLD_BIN=$OLD_BIN is not an executable"

bench_scratch access-log

# start NAME BINARY terminal|file|off
start() {
  local name=$1 bin=$2 mode=$3 port pid
  port=$(free_port)
  local args="$WWW --addr 127.0.0.1:$port --workers 2 --max-keep-alive-requests 100000 --keep-alive-timeout 300"
  case $mode in
    terminal) env -u RUST_LOG script -qfc "exec $bin $args" /dev/null >/dev/null 2>&1 & ;;
    file) env -u RUST_LOG $bin $args >/dev/null 2>"$TMP/$name.err" & ;;
    off) RUST_LOG=warn $bin $args >/dev/null 2>&1 & ;;
  esac
  pid=$!
  serving "$name" "$port" "$pid" "$TMP/$name.err"
}
for mode in terminal file off; do start "$mode" "$NEW" "$mode"; done
if [ -n "${OLD_BIN:-}" ]; then
  for mode in terminal file off; do start "old-$mode" "$OLD_BIN" "$mode"; done
fi

RESULTS=$TMP/runs.txt
for round in $(seq 1 "$ROUNDS"); do
  for k in "${!NAMES[@]}"; do
    i=$(((k + round) % ${#NAMES[@]}))
    rps=$("$WRK" -t1 -c64 -d"$DURATION" "http://127.0.0.1:${PORTS[$i]}/index.html" | awk '/Requests\/sec/ {print $2}')
    say "round $round ${NAMES[$i]}: ${rps:-0} req/s"
    echo "${NAMES[$i]} ${rps:-0}" >>"$RESULTS"
  done
done

python3 - "$RESULTS" <<'EOF'
import statistics, sys
from collections import defaultdict
runs = defaultdict(list)
for line in open(sys.argv[1], encoding="utf-8"):
    name, rps = line.split()
    runs[name].append(float(rps))
median = {name: statistics.median(values) for name, values in runs.items()}
print("| binary | stderr on a terminal | stderr to a file | logging off | terminal ÷ off | file ÷ off |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for label, prefix in (("this build", ""), ("OLD_BIN", "old-")):
    if prefix + "off" not in median:
        continue
    t, f, o = (median[prefix + m] for m in ("terminal", "file", "off"))
    print(f"| {label} | {t:,.0f} | {f:,.0f} | {o:,.0f} | {t / o:.2f} | {f / o:.2f} |")
EOF
