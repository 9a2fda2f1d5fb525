# Shared by the scripts in benches/: sourced, not run.

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
