# Shared by the scripts in benches/: sourced, not run.

# find_tool NAME: the path of NAME, on PATH or in /usr/sbin (where Debian puts nginx), or nothing.
find_tool() { command -v "$1" || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || true; }

# need_tools TOOL[:PACKAGE]...: installs with apt-get (when run as root) the Debian package of
# each tool not found (PACKAGE defaults to TOOL), or stops through the caller's `die`.
need_tools() {
  local spec missing=()
  for spec in "$@"; do
    [ -n "$(find_tool "${spec%%:*}")" ] || missing+=("${spec#*:}")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  [ "$(id -u)" = 0 ] || die "missing ${missing[*]}; install (apt-get install ${missing[*]}) or run as root"
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; } \
    || die "apt-get install ${missing[*]} failed"
  for spec in "$@"; do
    [ -n "$(find_tool "${spec%%:*}")" ] || die "${spec%%:*} still missing after apt-get install"
  done
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something accepts on 127.0.0.1:$1, as long as process $2 lives (5 s at most).
wait_port() {
  local _
  for _ in $(seq 1 100); do
    kill -0 "$2" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

# nginx_conf DIR WORKERS PORT ROOT: writes DIR/nginx.conf from benches/nginx.conf, for
# WORKERS worker processes serving ROOT on 127.0.0.1:PORT, with DIR for its scratch files.
# Start it with: "$NGINX" -p DIR -c DIR/nginx.conf -e DIR/error.log
nginx_conf() {
  local nofile
  nofile=$(ulimit -Hn)
  [ "$nofile" = unlimited ] && nofile=1048576
  mkdir -p "$1"
  sed -e "s|@USER@|$(id -un)|g" -e "s|@WORKERS@|$2|g" -e "s|@NOFILE@|$nofile|g" -e "s|@TMP@|$1|g" \
    -e "s|@PORT@|$3|g" -e "s|@ROOT@|$4|g" "$REPO/benches/nginx.conf" >"$1/nginx.conf"
}

# started NAME PORT PID LOG: waits for what was started as PID to accept on PORT, or shows
# its LOG and stops through the caller's `die`.
started() {
  wait_port "$2" "$3" && return 0
  [ ! -f "$4" ] || cat "$4" >&2
  die "$1 did not start"
}

# update_doc_section DOC SECTION_FILE NAME: replaces what stands between
# <!-- NAME:begin --> and <!-- NAME:end --> in DOC with SECTION_FILE (which carries
# the markers itself), or appends it when DOC has no such section.
update_doc_section() {
  mkdir -p "$(dirname "$1")"
  [ -f "$1" ] || printf '# Benchmarks\n' >"$1"
  python3 - "$1" "$2" "$3" <<'PY'
import sys
doc_path, section_path, name = sys.argv[1:]
doc = open(doc_path, encoding="utf-8").read()
section = open(section_path, encoding="utf-8").read().rstrip("\n")
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
if begin in doc and end in doc and doc.index(begin) < doc.index(end):
    doc = doc[:doc.index(begin)] + section + doc[doc.index(end) + len(end):]
else:
    doc = doc.rstrip("\n") + "\n\n" + section + "\n"
open(doc_path, "w", encoding="utf-8").write(doc)
PY
}

# stop_pids PID...: asks each process to stop (SIGTERM), gives it 5 s, then kills it and reaps it.
stop_pids() {
  local pid _
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

# scratch_webapp DIR NAME: copies the repository's webapp/ to DIR/www, adds a 1 MiB file
# DIR/www/NAME and the page-sized files 1k.bin, 4k.bin, 32k.bin and 64k.bin (random bytes,
# none kept in the repository), and index.html.gz beside index.html (gzip -9, what nginx's
# gzip_static serves), and makes it all readable by servers that drop privileges (nginx's
# workers). Prints DIR/www.
scratch_webapp() {
  local kib
  cp -R "$REPO/webapp" "$1/www"
  head -c 1048576 /dev/urandom >"$1/www/$2"
  for kib in 1 4 32 64; do head -c $((kib * 1024)) /dev/urandom >"$1/www/${kib}k.bin"; done
  gzip -9 -k -n "$1/www/index.html"
  chmod 755 "$1"
  chmod -R a+rX "$1/www"
  printf '%s\n' "$1/www"
}

# raise_nofile: raises this shell's limit on open files to the hard limit, for the
# connections of the servers and clients started from it; sets CLK_TCK, the unit of
# the CPU times in /proc/PID/stat.
raise_nofile() {
  local hard
  hard=$(ulimit -Hn)
  [ "$hard" = unlimited ] && hard=1048576
  ulimit -n "$hard"
  CLK_TCK=$(getconf CLK_TCK)
}

# spawn_nginx DIR WORKERS PORT LOG: starts nginx in the background with DIR/nginx.conf
# (nginx_conf, serving WWW), its output to LOG; sets the caller's `pid`.
spawn_nginx() {
  nginx_conf "$1" "$2" "$3" "$WWW"
  "$NGINX" -p "$1" -c "$1/nginx.conf" -e "$1/error.log" >"$4" 2>&1 &
  pid=$!
}

# serving NAME PORT PID LOG: adds the server started as PID to NAMES, PORTS and PIDS
# (bench_scratch's arrays, so that it is stopped at exit) once it accepts on PORT, or
# shows its LOG and stops.
serving() {
  NAMES+=("$1")
  PORTS+=("$2")
  PIDS+=("$3")
  started "$1" "$2" "$3" "$4"
  say "$1 on 127.0.0.1:$2 (pid $3)"
}

# bench_scratch NAME: makes the scratch directory TMP and the copy of the web app WWW
# in it (scratch_webapp, with 1mb.bin), and empty arrays NAMES, PIDS and PORTS for the
# servers the script starts. When the script exits, every process in PIDS is stopped
# and TMP removed.
bench_scratch() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/nioserve-$1.XXXXXX")
  WWW=$(scratch_webapp "$TMP" 1mb.bin)
  NAMES=()
  PIDS=()
  PORTS=()
  trap 'stop_pids "${PIDS[@]}"; rm -rf "$TMP"' EXIT
  trap 'exit 130' INT TERM
}
