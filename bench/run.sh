#!/bin/sh
# bench/run.sh: the scenarios of `make bench`, each against a fresh cubbyd
# on a temporary data directory, each figure beside a reference measured
# in the same run on the same bytes. BENCH_QUICK=1 uses a smaller file.
#
#   sh bench/run.sh BUILD_DIR
set -eu
build=$1
size_mb=1024
[ "${BENCH_QUICK:-0}" = 1 ] && size_mb=128
work=$(mktemp -d "${TMPDIR:-/tmp}/cubby-bench-XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
secs() { calc %.3f "$2 - $1"; }
mbps() { calc %.1f "$size_mb * 1.048576 / $1"; }

# Starts cubbyd on a random port, again on another if that one is taken.
start_cubbyd() {
	for try in 1 2 3 4 5; do
		port=$(awk 'BEGIN { srand(); print 20000 + int(rand() * 40000) }')
		start_on_port && return 0
	done
	cat "$work/cubbyd.log"
	exit 1
}

start_on_port() {
	cat >"$work/cubby.conf" <<CONF
data_dir = $work/data
bind = 127.0.0.1
http_port = $port
line_port = 0
max_upload_size = 64G
log_level = info
CONF
	"$build/cubbyd" -c "$work/cubby.conf" 2>"$work/cubbyd.log" &
	pid=$!
	i=0
	until grep -q listening "$work/cubbyd.log" 2>/dev/null; do
		i=$((i + 1))
		kill -0 "$pid" 2>/dev/null && [ $i -le 100 ] || { pid=; return 1; }
		sleep 0.1
	done
	auth="Authorization: Basic $(printf 'admin:%s' "$(cat "$work/data/initial-password")" | base64 -w0)
"
}

echo "cubby bench: $(nproc) cores, $(awk '/MemTotal/ {print $2/1024 " MiB"}' /proc/meminfo), $(uname -sr), $(date -u +%Y-%m-%d)"
head -c "${size_mb}M" /dev/urandom >"$work/file"
sync

# The MD5 limit: md5sum of the same bytes, warm in the page cache as the
# upload will read them.
t0=$(now)
md5=$(md5sum "$work/file" | cut -d' ' -f1)
t_md5=$(secs "$t0" "$(now)")

start_cubbyd
t_up=$("$build/bench/upload_ws" "$port" "$auth" "$work/file" "$md5" 65536)

printf '%-44s %10s %10s\n' "scenario ($size_mb MiB)" "MB/s" "ratio"
printf '%-44s %10s %10s\n' "md5sum (the MD5 limit)" "$(mbps "$t_md5")" "1.00"
printf '%-44s %10s %10s\n' "spec 1 /upload, 64 KiB blobs" "$(mbps "$t_up")" \
	"$(calc %.2f "$t_md5 / $t_up")"
