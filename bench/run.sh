#!/bin/sh
# bench/run.sh: the scenarios of `make bench`, each against a fresh cubbyd
# on a temporary data directory, each figure beside a reference measured
# in the same run on the same bytes. BENCH_QUICK=1 uses a smaller file and
# fewer sockets.
#
#   md5sum of the file                  the reference of /upload (MD5 bound)
#   spec 1 /upload of the file
#   dd of as many bytes into the data   the reference of /ws/Upload (disk
#     directory, conv=fdatasync           bound; cubby fdatasyncs too)
#   spec 2 /ws/Upload of the file
#   spec 2 /ws/Upload, 100 uploads of a hundredth of the file at once, and
#     cubbyd's peak RSS (VmHWM) after each /ws/Upload scenario
#   spec 2 /ws/Upload of a 256 MiB file    the reference of the line protocol
#   protocol 4 put, then get, of that file on the line port, 48 KiB chunks,
#     8 unanswered at a time, and cubbyd's VmHWM after them.
#     BENCH_QUICK=1: 64 MiB
#   nginx WebDAV PUT of the file      the reference of /fm (curl both)
#   protocol 5 /fm multipart add of the file, and cubbyd's VmHWM
#   PATCH /files/<key>, sent to answered  the reference of the fan-out
#   spec 3 fan-out: 1,000 users, each with a /files event socket and read
#     access to one node; 100 patches of the node, each from its sending
#     and from its answer to the last socket's `patch` event; cubbyd's
#     VmRSS and VmHWM before the sockets open (the reference) and with
#     them open. BENCH_QUICK=1: 100 users, 20 patches
#
#   sh bench/run.sh BUILD_DIR
set -eu
build=$1
size_mb=1024 line_mb=256 subs=1000 patches=100
[ "${BENCH_QUICK:-0}" = 1 ] && size_mb=128 line_mb=64 subs=100 patches=20
# One descriptor per fan-out socket on each side, and cubbyd's own files.
nofile=$(ulimit -n)
[ "$nofile" = unlimited ] || [ "$nofile" -ge 4096 ] || ulimit -n 4096 2>/dev/null ||
	echo "bench: ulimit -n is $nofile and cannot be raised; the fan-out may run out of files" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/cubby-bench-XXXXXX")
pid=
conf_extra= # more config lines for the next start_cubbyd
line_on=0   # 1: the next start_cubbyd opens the line port too, on $line_port
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
secs() { calc %.3f "$2 - $1"; }
mbps() { calc %.1f "$size_mb * 1.048576 / $1"; }

# Runs a bench client; when it fails, shows the end of cubbyd's log too.
client() {
	"$@" || {
		echo "bench: ${1##*/} failed; the end of cubbyd's log:" >&2
		tail -n 20 "$work/cubbyd.log" >&2
		exit 1
	}
}

# Stops cubbyd and removes its data directory.
stop_cubbyd() {
	kill "$pid" && wait "$pid" || true
	pid=
	rm -rf "$work/data"
}

# cubbyd's peak resident set (VmHWM) in MiB.
peak_rss() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }

# Starts cubbyd on a random port (and the line port on the next one when
# line_on is 1), again on others if one is taken. The seed is the
# nanoseconds: awk's srand() alone seeds with the second, which gave every
# try within one second the same port.
start_cubbyd() {
	for try in 1 2 3 4 5; do
		port=$(awk -v seed="$(date +%N)" 'BEGIN { srand(seed); print 20000 + int(rand() * 40000) }')
		line_port=0
		[ "$line_on" = 1 ] && line_port=$((port + 1))
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
line_port = $line_port
max_upload_size = 64G
log_level = info
$conf_extra
CONF
	"$build/cubbyd" -c "$work/cubby.conf" 2>"$work/cubbyd.log" &
	pid=$!
	i=0
	until grep -q listening "$work/cubbyd.log" 2>/dev/null; do
		i=$((i + 1))
		kill -0 "$pid" 2>/dev/null && [ $i -le 100 ] || { pid=; return 1; }
		sleep 0.1
	done
	password=$(cat "$work/data/initial-password")
	auth="Authorization: Basic $(printf 'admin:%s' "$password" | base64 -w0)
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
t_up=$(client "$build/bench/upload_ws" "$port" "$auth" "$work/file" "$md5" 65536)
stop_cubbyd

# The disk limit: dd writing as many bytes into the data directory, synced
# at the end as cubbyd syncs a completed upload. Then one /ws/Upload of the
# file, whose blob must be the file.
start_cubbyd
sync
t0=$(now)
dd if=/dev/zero of="$work/data/dd.tmp" bs=1M count="$size_mb" conv=fdatasync 2>/dev/null
t_dd=$(secs "$t0" "$(now)")
rm -f "$work/data/dd.tmp"
sync
out=$(client "$build/bench/upload_resumable" "$port" "$auth" "$work/file" 1)
t_r1=${out%% *}
rss1=$(peak_rss)
blob=$(find "$work/data/blobs" -type f -size "$(wc -c <"$work/file")c")
cmp -s "$work/file" "$blob" || { echo "bench: the /ws/Upload blob differs from the file" >&2; exit 1; }
stop_cubbyd

# 100 /ws/Upload at once, each of a hundredth of the file: aggregate MB/s
# and cubbyd's peak RSS.
start_cubbyd
sync
out=$(client "$build/bench/upload_resumable" "$port" "$auth" "$work/file" 100)
mb100=${out#* }
rss100=$(peak_rss)
# The 100 blobs must be the 100 slices (in some order).
slice=$(($(wc -c <"$work/file") / 100))
i=0
while [ $i -lt 100 ]; do
	dd if="$work/file" bs=1M iflag=skip_bytes,count_bytes skip=$((i * slice)) count=$slice \
		2>/dev/null | md5sum
	i=$((i + 1))
done | cut -d' ' -f1 | sort >"$work/slices.md5"
find "$work/data/blobs" -type f -size "${slice}c" -exec md5sum {} + | cut -d' ' -f1 | sort |
	cmp -s - "$work/slices.md5" || { echo "bench: the 100 /ws/Upload blobs differ from the slices" >&2; exit 1; }
stop_cubbyd

# The line protocol: a /ws/Upload of a line_mb MiB file (the first bytes
# of the file), then on a fresh cubbyd with the line port on, a put and a
# get of it over one connection; the client checks every chunk got
# against the file.
head -c "${line_mb}M" "$work/file" >"$work/file4"
start_cubbyd
sync
out=$(client "$build/bench/upload_resumable" "$port" "$auth" "$work/file4" 1)
mb_l2=${out#* }
rss_l2=$(peak_rss)
stop_cubbyd
line_on=1
start_cubbyd
line_on=0
sync
out=$(client "$build/bench/line" "$line_port" admin "$password" "$work/file4")
read -r _ mb_lput _ mb_lget <<OUT
$out
OUT
rss_line=$(peak_rss)
stop_cubbyd
rm -f "$work/file4"

# Protocol 5: one multipart add of the whole file with curl (which reads
# the file as it sends it), beside the same file PUT with curl to nginx's
# WebDAV module on loopback (Debian's nginx-light, installed here when it
# is missing and we are root). cubbyd fdatasyncs the file before it
# answers; nginx does not.
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$nginx_bin" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "bench: installing nginx-light for the WebDAV reference" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends nginx-light >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends nginx-light >/dev/null; } || true
fi
mb_dav= mb_fm=
if [ -x "$nginx_bin" ]; then
	mkdir -p "$work/nginx/dav" "$work/nginx/tmp"
	nport=$(awk -v seed="$(date +%N)" 'BEGIN { srand(seed); print 20000 + int(rand() * 40000) }')
	cat >"$work/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $work/nginx/tmp;
	client_max_body_size 0;
	server {
		listen 127.0.0.1:$nport;
		root $work/nginx/dav;
		location / { dav_methods PUT; }
	}
}
CONF
	"$nginx_bin" -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" &
	npid=$!
	sleep 0.5
	sync
	t0=$(now)
	code=$(curl -s -o /dev/null -w '%{http_code}' -T "$work/file" "http://127.0.0.1:$nport/file")
	t_dav=$(secs "$t0" "$(now)")
	kill "$npid" 2>/dev/null; wait "$npid" 2>/dev/null || true
	[ "$code" = 201 ] && cmp -s "$work/file" "$work/nginx/dav/file" ||
		{ echo "bench: nginx PUT answered $code or stored other bytes" >&2; exit 1; }
	rm -rf "$work/nginx"
	mb_dav=$(mbps "$t_dav")
else
	echo "bench: nginx is not installed (apt-get install nginx-light): no WebDAV reference" >&2
fi
start_cubbyd
sync
t0=$(now)
answer=$(curl -s -u "admin:$password" -F action=add -F configId=default -F useChunks=0 \
	-F "file=@$work/file;filename=bench.bin" "http://127.0.0.1:$port/fm")
t_fm=$(secs "$t0" "$(now)")
rss_fm=$(peak_rss)
case $answer in *'"is_fully_uploaded":1'*) ;; *) echo "bench: /fm add answered $answer" >&2; exit 1 ;; esac
blob=$(find "$work/data/blobs" -type f -size "$(wc -c <"$work/file")c")
cmp -s "$work/file" "$blob" || { echo "bench: the /fm blob differs from the file" >&2; exit 1; }
stop_cubbyd
mb_fm=$(mbps "$t_fm")

# The fan-out: a user per socket (PBKDF2 at its floor, so that making
# them is quick), connections for all of them and the admin.
conf_extra="max_connections = $((subs + 100))
pbkdf2_iterations = 1000"
start_cubbyd
conf_extra=
out=$(client "$build/bench/fanout" "$port" "$password" "$pid" "$subs" "$subs" "$patches")
stop_cubbyd

printf '%-44s %10s %10s\n' "scenario ($size_mb MiB)" "MB/s" "ratio"
printf '%-44s %10s %10s\n' "md5sum (the MD5 limit)" "$(mbps "$t_md5")" "1.00"
printf '%-44s %10s %10s\n' "spec 1 /upload, 64 KiB blobs" "$(mbps "$t_up")" \
	"$(calc %.2f "$t_md5 / $t_up")"
printf '%-44s %10s %10s\n' "dd conv=fdatasync (the disk limit)" "$(mbps "$t_dd")" "1.00"
printf '%-44s %10s %10s\n' "spec 2 /ws/Upload, 32767-byte messages" "$(mbps "$t_r1")" \
	"$(calc %.2f "$t_dd / $t_r1")"
printf '%-44s %10s %10s\n' "spec 2 /ws/Upload, 100 x $(calc %.2f "$size_mb / 100") MiB at once" "$mb100" \
	"$(calc %.2f "$mb100 / $(mbps "$t_dd")")"
echo "cubbyd peak RSS (VmHWM): $rss1 MiB after 1 /ws/Upload, $rss100 MiB after 100 at once"

printf '%-44s %10s %10s\n' "protocol 4 line, $line_mb MiB, 1 connection" "MB/s" "ratio"
printf '%-44s %10s %10s\n' "spec 2 /ws/Upload (the reference)" "$mb_l2" "1.00"
printf '%-44s %10s %10s\n' "line put, 48 KiB chunks, 8 in flight" "$mb_lput" \
	"$(calc %.2f "$mb_lput / $mb_l2")"
printf '%-44s %10s %10s\n' "line get, 48 KiB chunks, 8 in flight" "$mb_lget" \
	"$(calc %.2f "$mb_lget / $mb_l2")"
echo "cubbyd peak RSS (VmHWM): $rss_l2 MiB after the /ws/Upload, $rss_line MiB after the line put and get"

printf '%-44s %10s %10s\n' "protocol 5 /fm, $size_mb MiB, curl" "MB/s" "ratio"
if [ -n "$mb_dav" ]; then
	printf '%-44s %10s %10s\n' "nginx WebDAV PUT (the reference)" "$mb_dav" "1.00"
	printf '%-44s %10s %10s\n' "/fm add, multipart, useChunks=0" "$mb_fm" "$(calc %.2f "$mb_fm / $mb_dav")"
else
	printf '%-44s %10s %10s\n' "/fm add, multipart, useChunks=0" "$mb_fm" "-"
fi
echo "cubbyd peak RSS (VmHWM): $rss_fm MiB after the /fm add"

set -- $out
printf '%-44s %10s %10s %10s\n' "spec 3 /files fan-out, $subs users, $patches patches" "p50 ms" "p99 ms" "max ms"
printf '%-44s %10s %10s %10s\n' "PATCH round trip, no socket (the reference)" "$1" "$2" "$3"
printf '%-44s %10s %10s %10s\n' "PATCH round trip, $subs /files sockets" "$4" "$5" "$6"
printf '%-44s %10s %10s %10s\n' "PATCH sent to the last patch event" "$7" "$8" "$9"
printf '%-44s %10s %10s %10s\n' "PATCH answer to the last patch event" "${10}" "${11}" "${12}"
echo "cubbyd VmRSS/VmHWM: ${13}/${14} MiB before the $subs sockets, ${15}/${16} MiB with them open" \
	"($(calc %.1f "(${15} - ${13}) * 1024 / $subs") KiB each), ${17}/${18} MiB after the patches"
