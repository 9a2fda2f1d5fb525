#!/usr/bin/env bash
# The idle-connection experiment, one command: what do N idle keep-alive connections cost
# nioserve (nio model), nioserve (blocking model, thread per connection) and nginx, and can
# each still answer a fresh client while they idle?
#
#   benches/idle.sh                  N = 100 1000 10000 MAX, all three servers
#   COUNTS="100 1000" benches/idle.sh
#   SERVERS="nio nginx" benches/idle.sh
#
# MAX is as many connections as the file-descriptor hard limit allows this side
# (the hard limit minus 500; the server is a separate process with its own descriptors).
# For each N and server: the server starts fresh on a free port on 127.0.0.1, the
# examples/idle_experiment client opens N keep-alive connections, measures the server's
# threads and RSS, times FRESH fresh requests, and the server is stopped.
#
# Environment: COUNTS, SERVERS (nio blocking nginx), FRESH (200), BLOCKING_WORKERS (200),
# NIO_WORKERS (2), BUDGET (540: seconds for the whole run; later runs are skipped),
# SKIP_BUILD=1, CARGO_TARGET_DIR.
# Writes bench-results/idle.tsv and the <!-- idle:begin/end --> section of
# docs/benchmarks.md, and docs/idle.svg. Needs Linux, python3, and nginx (installed
# with apt-get when missing and run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
# shellcheck source=benches/lib.sh
. "$REPO/benches/lib.sh"

COUNTS=${COUNTS:-"100 1000 10000 max"}
SERVERS=${SERVERS:-"nio blocking nginx"}
FRESH=${FRESH:-200}
BLOCKING_WORKERS=${BLOCKING_WORKERS:-200}
NIO_WORKERS=${NIO_WORKERS:-2}
BUDGET=${BUDGET:-540}
KEEP_ALIVE=300
TARGET=${CARGO_TARGET_DIR:-$REPO/target}/release
RESULTS=$REPO/bench-results
DOC=$REPO/docs/benchmarks.md

say() { printf 'idle.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# --- tools -------------------------------------------------------------------------------
NGINX=""
case " $SERVERS " in
  *" nginx "*)
    need_tools nginx
    NGINX=$(find_tool nginx)
    ;;
esac
command -v python3 >/dev/null || die "python3 is needed for the table and the chart"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  say "building (cargo build --release --workspace --bins --examples)"
  cargo build --release --workspace --bins --examples --quiet
fi
NIOSERVE=$TARGET/nioserve
EXPERIMENT=$TARGET/examples/idle_experiment
[ -x "$NIOSERVE" ] || die "$NIOSERVE is missing (build failed?)"
[ -x "$EXPERIMENT" ] || die "$EXPERIMENT is missing (build failed?)"

case " $SERVERS " in
  *" blocking "*)
    if ! "$NIOSERVE" --help 2>/dev/null | grep -q -- '--model'; then
      say "this nioserve build has no --model flag: skipping the blocking model"
      SERVERS=$(echo " $SERVERS " | sed 's/ blocking / /' | xargs)
    fi
    ;;
esac

# --- limits ------------------------------------------------------------------------------
HARD=$(ulimit -Hn)
[ "$HARD" = unlimited ] && HARD=1048576
ulimit -n "$HARD"
MAX=$((HARD - 500))
counts=()
for n in $COUNTS; do
  [ "$n" = max ] && n=$MAX
  if [ "$n" -gt "$MAX" ]; then
    say "N=$n needs more than the fd hard limit ($HARD) allows; using $MAX"
    n=$MAX
  fi
  counts+=("$n")
done
say "fd hard limit $HARD: N in ${counts[*]}; servers: $SERVERS"

# --- servers -----------------------------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nioserve-idle.XXXXXX")
chmod 755 "$TMP"
SERVER_PID=""
cleanup() {
  stop_server
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM



# start_server KIND PORT LOG: sets SERVER_PID and MEASURE_PIDS (comma-separated).
start_server() {
  local kind=$1 port=$2 log=$3
  case $kind in
    nio)
      RUST_LOG=warn "$NIOSERVE" "$REPO/webapp" --addr "127.0.0.1:$port" --workers "$NIO_WORKERS" \
        --max-connections 30000 --keep-alive-timeout $KEEP_ALIVE --max-keep-alive-requests 100000 \
        >"$log" 2>&1 &
      SERVER_PID=$!
      ;;
    blocking)
      RUST_LOG=warn "$NIOSERVE" "$REPO/webapp" --addr "127.0.0.1:$port" --model blocking \
        --workers "$BLOCKING_WORKERS" --max-connections 30000 --keep-alive-timeout $KEEP_ALIVE \
        --max-keep-alive-requests 100000 >"$log" 2>&1 &
      SERVER_PID=$!
      ;;
    nginx)
      local dir=$TMP/nginx-$port
      nginx_conf "$dir" 1 "$port" "$REPO/webapp"
      "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$log" 2>&1 &
      SERVER_PID=$!
      ;;
    *) die "unknown server $kind" ;;
  esac
  if ! wait_port "$port" "$SERVER_PID"; then
    say "$kind did not start on port $port:"
    cat "$log" >&2
    [ "$kind" = nginx ] && cat "$TMP/nginx-$port/error.log" >&2 2>/dev/null
    return 1
  fi
  MEASURE_PIDS=$SERVER_PID
  if [ "$kind" = nginx ]; then
    local workers
    for _ in $(seq 1 50); do
      workers=$(pgrep -P "$SERVER_PID" | paste -sd, - || true)
      [ -n "$workers" ] && break
      sleep 0.05
    done
    MEASURE_PIDS=$SERVER_PID${workers:+,$workers}
  fi
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local i
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

label() {
  case $1 in
    nio) echo "nioserve nio ($NIO_WORKERS workers)" ;;
    blocking) echo "nioserve blocking ($BLOCKING_WORKERS threads)" ;;
    nginx) echo "nginx (1 worker)" ;;
  esac
}

# --- runs --------------------------------------------------------------------------------
mkdir -p "$RESULTS"
TSV=$RESULTS/idle.tsv
python3 "$REPO/benches/plot_idle.py" header >"$TSV"
for n in "${counts[@]}"; do
  for kind in $SERVERS; do
    name=$(label "$kind")
    if [ "$SECONDS" -ge "$BUDGET" ]; then
      say "time budget of ${BUDGET}s spent: skipping $name N=$n"
      printf 'RESULT connections=%s limit="skipped: time budget spent"\n' "$n" \
        | python3 "$REPO/benches/plot_idle.py" row "$name" >>"$TSV"
      continue
    fi
    port=$(free_port)
    log=$TMP/$kind-$n.log
    say "$name, N=$n, port $port"
    if ! start_server "$kind" "$port" "$log"; then
      stop_server
      printf 'RESULT connections=%s limit="server did not start"\n' "$n" \
        | python3 "$REPO/benches/plot_idle.py" row "$name" >>"$TSV"
      continue
    fi
    out=$TMP/result-$kind-$n.txt
    timeout 400 "$EXPERIMENT" --addr "127.0.0.1:$port" --pid "$MEASURE_PIDS" --connections "$n" \
      --fresh "$FRESH" --path /hello.txt --label "$kind" --timeout 5 --fresh-timeout 2 \
      --open-budget 240 --fresh-budget 10 --fresh-from 127.0.0.2 >"$out" 2>"$out.err" || say "experiment exited with status $?"
    grep -v '^RESULT' "$out" >&2 || true
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      say "$name exited during the run; its output:"
      tail -20 "$log" >&2
    fi
    if [ -s "$out.err" ] && ! grep -q '^RESULT' "$out"; then cat "$out.err" >&2; fi
    python3 "$REPO/benches/plot_idle.py" row "$name" <"$out" >>"$TSV"
    stop_server
  done
done
say "wrote $TSV"

# --- the document ------------------------------------------------------------------------
mkdir -p "$(dirname "$DOC")"
python3 "$REPO/benches/plot_idle.py" svg "$TSV" "$REPO/docs/idle.svg"
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$REPO" status --porcelain -- src demo examples 2>/dev/null)" ] && commit="$commit+changes"
section=$TMP/idle-section.md
{
  echo "<!-- idle:begin -->"
  echo "## Idle keep-alive connections"
  echo
  echo "Generated by \`benches/idle.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), nioserve $commit,"
  echo "$(nproc) cores, Linux $(uname -r), fd hard limit $HARD. Exact command:"
  echo
  echo '```sh'
  echo "COUNTS=\"$COUNTS\" SERVERS=\"$SERVERS\" FRESH=$FRESH BLOCKING_WORKERS=$BLOCKING_WORKERS benches/idle.sh"
  echo '```'
  echo
  echo "Servers: nioserve demo \`--workers $NIO_WORKERS --max-connections 30000 --keep-alive-timeout $KEEP_ALIVE\`;"
  echo "nioserve \`--model blocking --workers $BLOCKING_WORKERS\` (thread per connection; 200 was Tomcat's BIO"
  echo "\`maxThreads\` default); nginx $("$NGINX" -v 2>&1 | sed 's|.*/||') with 1 worker process and"
  echo "[\`benches/nginx.conf\`](../benches/nginx.conf) (keep-alive 300 s). Each run: a fresh server, N keep-alive"
  echo "connections each served one \`GET /hello.txt\` and then left idle, then $FRESH sequential fresh requests"
  echo "(\`Connection: close\`, from source address 127.0.0.2 so the client's ephemeral-port search does not"
  echo "add to their latency; failure = no answer within 2 s; at most 10 s of them). Threads and RSS are the"
  echo "server's (\`/proc/PID/status\`, summed over nginx's master and worker) while the connections idle;"
  echo "\"per idle conn\" is the RSS growth divided by the connections held (kernel socket memory is not"
  echo "in RSS). A hollow marker in the chart: fewer connections held than requested."
  echo
  python3 "$REPO/benches/plot_idle.py" table "$TSV"
  echo
  echo "![Server threads and RSS against idle keep-alive connections](idle.svg)"
  echo "<!-- idle:end -->"
} >"$section"

update_doc_section "$DOC" "$section" idle
say "updated $DOC and docs/idle.svg"
python3 "$REPO/benches/plot_idle.py" table "$TSV"
