#!/bin/sh
# bench/run.sh: the scenarios of `make bench`, each against a fresh cubbyd
# on a temporary data directory, each figure beside a reference measured
# in the same run on the same bytes. Prints one table and writes it, with
# the machine, the date and the command, to bench/RESULTS.md (see
# bench/README.md for what each row measures and why).
#
#   sh bench/run.sh BUILD_DIR RELEASE_BINARY
#
# BUILD_DIR holds the -O2 cubbyd and the clients (bench/*.cpp); the
# release binary (make's -Os build/cubbyd) is the one whose size counts.
# BENCH_QUICK=1: a 128 MiB file, 100 fan-out users, 2,000 idle sockets
# and 1 s rate phases, in under a minute.
set -eu
build=$1 release=$2
size_mb=1024 subs=1000 patches=100 idle_many=10000 rate_s=3
[ "${BENCH_QUICK:-0}" = 1 ] && size_mb=128 subs=100 patches=20 idle_many=2000 rate_s=1
# A descriptor per socket on each side of the idle and fan-out scenarios.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
work=$(mktemp -d "${TMPDIR:-/tmp}/cubby-bench-XXXXXX")
rows=$work/rows.md
pid= npid= lpid=
conf_extra= # more config lines for the next start_cubbyd
line_on=0   # 1: the next start_cubbyd opens the line port too, on $line_port
cleanup() {
	for p in $pid $npid $lpid; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
secs() { calc %.3f "$2 - $1"; }
mbps() { calc %.1f "$size_mb * 1.048576 / $1"; }
# ratio A B: A / B with two decimals, or - when either is missing.
ratio() { case "$1$2" in *-*|'') echo -;; *) calc %.2f "$1 / $2";; esac; }
# A random port below the ephemeral range: after 10,000 sockets closed,
# thousands of ephemeral ports sit in TIME_WAIT and cannot be listened on.
free_port() {
	awk -v seed="$(date +%N)" -v low="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)" \
		'BEGIN { srand(seed); if (low < 12000) low = 61000; print 10000 + int(rand() * (low - 10000)) }'
}
# A process's VmRSS, VmHWM or RssAnon in MiB.
proc_mib() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# One row of the table: scenario, figure, unit, reference (what and how
# much), ratio, target.
row() { printf '| %s | %s | %s | %s | %s | %s |\n' "$@" >>"$rows"; }
section() { printf '\n### %s\n\n| scenario | figure | unit | reference | ratio | target |\n|---|---|---|---|---|---|\n' "$1" >>"$rows"; }
note() { printf '\n%s\n' "$*" >>"$rows"; }

# Runs a bench client; when it fails, shows the end of cubbyd's log too.
client() {
	"$@" || {
		echo "bench: ${1##*/} failed; the end of cubbyd's log:" >&2
		tail -n 20 "$work/cubbyd.log" >&2
		exit 1
	}
}

# ---- cubbyd ----

# Starts cubbyd on a random port (and the line port on the next one when
# line_on is 1), again on others if one is taken.
start_cubbyd() {
	for try in 1 2 3 4 5; do
		port=$(free_port)
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

# Stops cubbyd and removes its data directory.
stop_cubbyd() {
	kill "$pid" && wait "$pid" || true
	pid=
	rm -rf "$work/data"
}

# The one blob of the file's size must hold the file's bytes.
check_blob() {
	blob=$(find "$work/data/blobs" -type f -size "$(wc -c <"$work/file")c")
	cmp -s "$work/file" "$blob" || { echo "bench: the $1 blob differs from the file" >&2; exit 1; }
}

# download URL [USER:PASS]: the MB/s of a GET that must answer 200 with
# the file's size.
download() {
	got=$(curl -s -o /dev/null ${2:+-u "$2"} -w '%{http_code} %{size_download} %{speed_download}' "$1")
	set -- $got
	[ "$1" = 200 ] && [ "$2" = "$(wc -c <"$work/file")" ] ||
		{ echo "bench: GET answered $got" >&2; exit 1; }
	calc %.1f "$3 / 1e6"
}

# ---- the peers: nginx (WebDAV PUT) and lighttpd (mod_webdav) ----

# Debian's packages, installed when missing and we are root.
install_peer() { # command package
	command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] && return 0
	[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 0
	echo "bench: installing $2" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends $2 >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $2 >/dev/null; } || true
}
peer_bin() { command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || true; }

start_nginx() {
	nport=$(free_port)
	rm -rf "$work/nginx" && mkdir -p "$work/nginx/dav" "$work/nginx/tmp"
	cat >"$work/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
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
	"$nginx" -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" &
	npid=$!
	wait_port "$nport"
}

start_lighttpd() {
	lport=$(free_port)
	rm -rf "$work/lighttpd" && mkdir -p "$work/lighttpd/dav" "$work/lighttpd/up"
	cat >"$work/lighttpd/lighttpd.conf" <<CONF
server.modules = ( "mod_webdav" )
server.document-root = "$work/lighttpd/dav"
server.bind = "127.0.0.1"
server.port = $lport
server.upload-dirs = ( "$work/lighttpd/up" )
server.max-request-size = 0
server.errorlog = "$work/lighttpd/error.log"
webdav.activate = "enable"
webdav.is-readonly = "disable"
CONF
	"$lighttpd" -D -f "$work/lighttpd/lighttpd.conf" &
	lpid=$!
	wait_port "$lport"
}

# Waits until something accepts on 127.0.0.1:PORT (curl: any answer).
wait_port() {
	i=0
	until curl -s -o /dev/null "http://127.0.0.1:$1/" 2>/dev/null; do
		i=$((i + 1)); [ $i -le 50 ] || { echo "bench: nothing listens on $1" >&2; exit 1; }
		sleep 0.1
	done
}
stop_peer() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null || true; }

# One peer's rows: idle RSS, a PUT of the file, a GET of it back, 100 PUTs
# of slices at once with the peak RSS. Sets peer_put (MB/s).
peer_run() { # name port pid root
	name=$1 pport=$2 ppid=$3 root=$4
	idle=$(proc_mib "$ppid" VmRSS)
	sync
	out=$(client "$build/bench/put_http" "$pport" /bench.bin "$work/file" 1)
	peer_put=$(echo "$out" | cut -d' ' -f2)
	cmp -s "$work/file" "$root/bench.bin" || { echo "bench: $name stored other bytes" >&2; exit 1; }
	peer_get=$(download "http://127.0.0.1:$pport/bench.bin")
	rm -f "$root/bench.bin"
	sync
	out=$(client "$build/bench/put_http" "$pport" /slice "$work/file" 100 "$ppid")
	set -- $out
	peer_put100=$2 peer_rss100=$4
	eval "${name}_idle=\$idle ${name}_put=\$peer_put ${name}_get=\$peer_get ${name}_put100=\$peer_put100 ${name}_rss100=\$peer_rss100"
}

# ---- the machine's limits ----

echo "cubby bench: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), $(date -u +%Y-%m-%d)" >&2
head -c "${size_mb}M" /dev/urandom >"$work/file"
sync

# The MD5 limit: md5sum of the same bytes, warm in the page cache as the
# uploads will read them; the best of three, like dd below.
mb_md5=0
for try in 1 2 3; do
	t0=$(now)
	md5=$(md5sum "$work/file" | cut -d' ' -f1)
	mb=$(mbps "$(secs "$t0" "$(now)")")
	mb_md5=$(calc %.1f "($mb > $mb_md5) ? $mb : $mb_md5")
done

# The disk limit: dd writing as many bytes into the data directory's
# file system, synced at the end as cubbyd syncs a completed upload; the
# best of three, as shared disks vary from one second to the next.
mkdir -p "$work/data"
mb_dd=0
for try in 1 2 3; do
	sync
	t0=$(now)
	dd if=/dev/zero of="$work/data/dd.tmp" bs=1M count="$size_mb" conv=fdatasync 2>/dev/null
	mb=$(mbps "$(secs "$t0" "$(now)")")
	rm -f "$work/data/dd.tmp"
	mb_dd=$(calc %.1f "($mb > $mb_dd) ? $mb : $mb_dd")
done
rm -rf "$work/data"
# One thread that hashes every byte and writes it: hashing, then writing,
# one after the other (cubbyd overlaps the disk's flush with hashing, so
# it can do better than this, but not better than md5sum).
mb_serial=$(calc %.1f "1 / (1 / $mb_md5 + 1 / $mb_dd)")

# The loopback limit: iperf3, one TCP stream for 3 s.
install_peer iperf3 iperf3
mb_tcp=-
if command -v iperf3 >/dev/null 2>&1; then
	iport=$(free_port)
	iperf3 -s -1 -p "$iport" >/dev/null 2>&1 &
	ipid=$!
	sleep 0.3
	mb_tcp=$(iperf3 -c 127.0.0.1 -p "$iport" -t 3 -f M 2>/dev/null |
		awk '/receiver/ { printf "%.1f", $7 * 1.048576 }')
	wait "$ipid" 2>/dev/null || true
	[ -n "$mb_tcp" ] || mb_tcp=-
fi

install_peer nginx nginx-light
install_peer lighttpd "lighttpd lighttpd-mod-webdav"
nginx=$(peer_bin nginx) lighttpd=$(peer_bin lighttpd)
nginx_idle=- nginx_put=- nginx_get=- nginx_put100=- nginx_rss100=-
lighttpd_idle=- lighttpd_put=- lighttpd_get=- lighttpd_put100=- lighttpd_rss100=-
if [ -n "$nginx" ]; then
	start_nginx
	peer_run nginx "$nport" "$npid" "$work/nginx/dav"
	stop_peer "$npid"; npid=
	rm -rf "$work/nginx"
fi
if [ -n "$lighttpd" ] && [ -e /usr/lib/lighttpd/mod_webdav.so ]; then
	start_lighttpd
	peer_run lighttpd "$lport" "$lpid" "$work/lighttpd/dav"
	stop_peer "$lpid"; lpid=
	rm -rf "$work/lighttpd"
else
	lighttpd=
fi

# ---- uploads and downloads of the file through each protocol ----

# spec 1 /upload: 64 KiB binary messages, 8 unanswered, then the MD5.
start_cubbyd
idle_rss=$(proc_mib "$pid" VmRSS) idle_anon=$(proc_mib "$pid" RssAnon)
t=$(client "$build/bench/upload_ws" "$port" "$auth" "$work/file" "$md5" 65536)
mb_s1=$(mbps "$t")
check_blob "/upload"
stop_cubbyd

# spec 2 /ws/Upload of the file, then (same cubbyd, line port on) the
# line protocol's put and get of it over one connection.
line_on=1
start_cubbyd
line_on=0
sync
out=$(client "$build/bench/upload_resumable" "$port" "$auth" "$work/file" 1)
mb_s2=$(mbps "${out%% *}")
rss_s2=$(proc_mib "$pid" VmHWM)
check_blob "/ws/Upload"
sync
out=$(client "$build/bench/line" "$line_port" admin "$password" "$work/file")
read -r _ mb_lput _ mb_lget <<OUT
$out
OUT
rss_line=$(proc_mib "$pid" VmHWM)
stop_cubbyd

# 100 /ws/Upload at once, each of a hundredth of the file: aggregate MB/s
# and cubbyd's peak RSS; the 100 blobs must be the 100 slices.
start_cubbyd
sync
out=$(client "$build/bench/upload_resumable" "$port" "$auth" "$work/file" 100)
mb_s2x100=${out#* }
rss_s2x100=$(proc_mib "$pid" VmHWM)
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

# Protocol 5: one multipart add with curl (which reads the file as it
# sends it); then the file back through /u/ and through spec 3's
# ?alt=media, with curl to /dev/null.
start_cubbyd
sync
t0=$(now)
answer=$(curl -s -u "admin:$password" -F action=add -F configId=default -F useChunks=0 \
	-F "file=@$work/file;filename=bench.bin" "http://127.0.0.1:$port/fm")
mb_fm=$(mbps "$(secs "$t0" "$(now)")")
rss_fm=$(proc_mib "$pid" VmHWM)
case $answer in *'"is_fully_uploaded":1'*) ;; *) echo "bench: /fm add answered $answer" >&2; exit 1 ;; esac
check_blob "/fm"
url=$(echo "$answer" | sed -n 's/.*"url":"\([^"]*\)".*/\1/p' | sed 's/\\//g')
mb_get_u=$(download "http://127.0.0.1:$port$url")
key=$(curl -s -u "admin:$password" "http://127.0.0.1:$port/files" | tr '{' '\n' |
	grep '"name":"bench.bin"' | sed -n 's/.*"id":"\([^"]*\)".*/\1/p' | head -1)
mb_get_media=$(download "http://127.0.0.1:$port/files/$key?alt=media" "admin:$password")
stop_cubbyd

# ---- memory ----

# The floor: a libwebsockets server that does nothing (bench/lws_floor).
fport=$(free_port)
"$build/bench/lws_floor" "$fport" &
fpid=$!
sleep 0.5
floor_rss=$(proc_mib "$fpid" VmRSS) floor_anon=$(proc_mib "$fpid" RssAnon)
kill "$fpid"; wait "$fpid" 2>/dev/null || true

# Idle WebSockets (/files event sockets on one session), a fresh cubbyd
# for each count: glibc keeps what a burst of connections freed.
conf_extra="max_connections = $((idle_many + 100))
pbkdf2_iterations = 1000"
for n in 1000 "$idle_many"; do
	start_cubbyd
	out=$(client "$build/bench/idle_ws" "$port" "$password" "$pid" "$n")
	set -- $out
	eval "idle_before_$n=\$1 idle_open_$n=\$3 idle_secs_$n=\$5"
	stop_cubbyd
done

# ---- events, small requests, logins ----

# The fan-out: a user per socket (PBKDF2 at its floor, so that making
# them is quick), connections for all of them and the admin.
conf_extra="max_connections = $((subs + 100))
pbkdf2_iterations = 1000"
start_cubbyd
conf_extra=
fan=$(client "$build/bench/fanout" "$port" "$password" "$pid" "$subs" "$subs" "$patches")
stop_cubbyd
# The kernel's part: one 200-byte message sent on each of as many
# loopback connections and read at the other end, with no server at all.
fan_floor=$(client "$build/bench/fanout_floor" "$subs" "$patches")

# Small requests on /ws: project_list of 100 projects, file_load_meta,
# on 1 and on 50 connections; logins at the configured PBKDF2 cost.
start_cubbyd
req1=$(client "$build/bench/requests" "$port" "$password" 1 "$rate_s")
stop_cubbyd
start_cubbyd
req50=$(client "$build/bench/requests" "$port" "$password" 50 "$rate_s")
stop_cubbyd
iterations=$(sed -n 's/^pbkdf2_iterations *= *//p' etc/cubby.conf)
conf_extra="pbkdf2_iterations = $iterations"
start_cubbyd
conf_extra=
logins=$(client "$build/bench/login" "$port" admin "$password" "$rate_s" "$iterations")
stop_cubbyd

# ---- the table ----

sizes=$(size "$release" | awk 'NR == 2 { print $1, $2, $3 }')
strip -o "$work/cubbyd.stripped" "$release"
stripped=$(wc -c <"$work/cubbyd.stripped")

section "Uploads, one $size_mb MiB file (MB/s = 10^6 bytes/s)"
row "md5sum of the file, best of 3" "$mb_md5" MB/s "the MD5 limit" 1.00 ""
row "dd to the data directory, conv=fdatasync, best of 3" "$mb_dd" MB/s "the disk limit" 1.00 ""
row "iperf3, loopback TCP, 1 stream" "$mb_tcp" MB/s "the loopback limit" 1.00 ""
row "md5sum then dd, one after the other" "$mb_serial" MB/s "hashing and writing in turn: 1 / (1/md5sum + 1/dd)" 1.00 ""
row "nginx WebDAV PUT" "$nginx_put" MB/s "" "" ""
row "lighttpd mod_webdav PUT" "$lighttpd_put" MB/s "" "" ""
row "spec 1 \`/upload\`, 64 KiB messages" "$mb_s1" MB/s "md5sum $mb_md5" "$(ratio "$mb_s1" "$mb_md5")" "≥ 0.85"
row "spec 1 \`/upload\` vs hashing and writing in turn" "$mb_s1" MB/s "md5sum then dd $mb_serial" "$(ratio "$mb_s1" "$mb_serial")" ""
row "spec 2 \`/ws/Upload\`, 32767-byte messages" "$mb_s2" MB/s "dd $mb_dd" "$(ratio "$mb_s2" "$mb_dd")" "≥ 0.7"
row "spec 2 \`/ws/Upload\` vs hashing and writing in turn" "$mb_s2" MB/s "md5sum then dd $mb_serial" "$(ratio "$mb_s2" "$mb_serial")" ""
row "spec 2 \`/ws/Upload\` vs nginx" "$mb_s2" MB/s "nginx PUT $nginx_put" "$(ratio "$mb_s2" "$nginx_put")" "≥ 3"
row "protocol 4 line put, 48 KiB chunks, 8 in flight" "$mb_lput" MB/s "spec 2 $mb_s2" "$(ratio "$mb_lput" "$mb_s2")" "≥ 0.3"
row "protocol 5 \`/fm\` add, multipart, curl -F" "$mb_fm" MB/s "nginx PUT $nginx_put" "$(ratio "$mb_fm" "$nginx_put")" "≥ 2"

section "Downloads of the same file (curl to /dev/null)"
row "nginx GET" "$nginx_get" MB/s "" "" ""
row "lighttpd GET" "$lighttpd_get" MB/s "" "" ""
row "protocol 5 \`GET /u/...\`" "$mb_get_u" MB/s "nginx GET $nginx_get" "$(ratio "$mb_get_u" "$nginx_get")" ""
row "spec 3 \`GET /files/<key>?alt=media\`" "$mb_get_media" MB/s "nginx GET $nginx_get" "$(ratio "$mb_get_media" "$nginx_get")" ""
row "protocol 4 line get, 48 KiB chunks, 8 in flight" "$mb_lget" MB/s "nginx GET $nginx_get" "$(ratio "$mb_lget" "$nginx_get")" ""

section "100 uploads at once, a hundredth of the file each"
row "spec 2 \`/ws/Upload\` x 100, aggregate" "$mb_s2x100" MB/s "dd $mb_dd" "$(ratio "$mb_s2x100" "$mb_dd")" ""
row "nginx PUT x 100, aggregate" "$nginx_put100" MB/s "" "" ""
row "lighttpd PUT x 100, aggregate" "$lighttpd_put100" MB/s "" "" ""
row "cubbyd peak RSS (VmHWM), 100 uploads" "$rss_s2x100" MiB "nginx $nginx_rss100, lighttpd $lighttpd_rss100" "$(ratio "$rss_s2x100" "$nginx_rss100")" "≤ 16"
row "cubbyd peak RSS after 1 upload, then line put and get" "$rss_s2 / $rss_line" MiB "" "" ""
row "cubbyd peak RSS after the \`/fm\` add" "$rss_fm" MiB "" "" ""

section "Memory"
row "a libwebsockets server doing nothing (bench/lws_floor), VmRSS" "$floor_rss" MiB "the floor (RssAnon $floor_anon)" 1.00 ""
row "cubbyd idle, VmRSS" "$idle_rss" MiB "floor $floor_rss" "$(ratio "$idle_rss" "$floor_rss")" "≤ 2"
row "cubbyd idle, RssAnon (its own pages)" "$idle_anon" MiB "floor $floor_anon" "$(ratio "$idle_anon" "$floor_anon")" ""
row "nginx idle, VmRSS" "$nginx_idle" MiB "" "" ""
row "lighttpd idle, VmRSS" "$lighttpd_idle" MiB "" "" ""
eval "b1=\$idle_before_1000 o1=\$idle_open_1000 s1=\$idle_secs_1000 bn=\$idle_before_$idle_many on=\$idle_open_$idle_many sn=\$idle_secs_$idle_many"
row "cubbyd, 1,000 idle WebSockets, VmRSS" "$o1" MiB "idle $b1; $(calc %.1f "($o1 - $b1) * 1024 / 1000") KiB each" "$(ratio "$o1" "$b1")" "≤ 10"
row "cubbyd, $idle_many idle WebSockets, VmRSS" "$on" MiB "idle $bn; $(calc %.1f "($on - $bn) * 1024 / $idle_many") KiB each; opened in $sn s, all answered a ping" "$(ratio "$on" "$bn")" "held"
row "cubbyd binary (-Os), size text / data / bss" "$(echo "$sizes" | tr ' ' /)" bytes "" "" ""
row "cubbyd binary (-Os), stripped" "$(calc %.1f "$stripped / 1024")" KiB "" "" "≤ 300"

set -- $fan
section "Events: spec 3 \`/files\` fan-out, $subs users, $patches patches (ms)"
row "PATCH round trip, no socket open, p50 / p99" "$1 / $2" ms "the reference" 1.00 ""
row "PATCH sent to the last socket's event, p50 / p99" "$7 / $8" ms "round trip $1 / $2" "$(ratio "$8" "$2")" "p99 ≤ 10"
row "the kernel floor: a message sent on each of $subs loopback sockets, p50 / p99" "$(echo $fan_floor | cut -d' ' -f1-2 | sed 's| | / |')" ms "bench/fanout_floor" 1.00 ""
row "PATCH sent to the last socket's event vs the floor, p50 / p99" "$7 / $8" ms "floor $(echo $fan_floor | cut -d' ' -f1-2 | sed 's| | / |')" "$(ratio "$7" "$(echo $fan_floor | cut -d' ' -f1)") / $(ratio "$8" "$(echo $fan_floor | cut -d' ' -f2)")" ""
row "cubbyd VmRSS with the $subs sockets open" "${15}" MiB "${13} before" "$(ratio "${15}" "${13}")" ""

set -- $req1
r1_pl=$1 r1_flm=$4 r1_pl99=$3 r1_flm99=$6
set -- $req50 $logins
section "Small requests on \`/ws\` (closed loop, one in flight per connection) and logins"
row "project_list (100 projects), 1 connection" "$r1_pl" req/s "p99 $r1_pl99 ms" "" ""
row "project_list (100 projects), 50 connections" "$1" req/s "p99 $3 ms; 1 connection $r1_pl" "$(ratio "$1" "$r1_pl")" ""
row "file_load_meta, 1 connection" "$r1_flm" req/s "p99 $r1_flm99 ms" "" ""
row "file_load_meta, 50 connections" "$4" req/s "p99 $6 ms; 1 connection $r1_flm" "$(ratio "$4" "$r1_flm")" ""
row "POST /api/login, PBKDF2-SHA256 x $iterations" "$7" logins/s "OpenSSL PBKDF2 in the client $8/s" "$(ratio "$7" "$8")" ""

{
	echo "# cubby bench results"
	echo
	echo "Written by \`make bench${BENCH_QUICK:+ BENCH_QUICK=$BENCH_QUICK}\` ($(git describe --always --dirty 2>/dev/null || echo unknown)) on $(date -u '+%Y-%m-%d %H:%M UTC')."
	echo "Machine: $(nproc) cores ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), data on $(df -T "${TMPDIR:-/tmp}" | awk 'NR == 2 { print $2 }')."
	nginx_v=$([ -n "$nginx" ] && "$nginx" -v 2>&1 | sed 's/.*\///' || echo "not installed")
	lighttpd_v=$([ -n "$lighttpd" ] && "$lighttpd" -v 2>&1 | sed -n 's/^lighttpd\/\([^ ]*\).*/\1/p' || echo "not installed")
	echo "Peers: nginx $nginx_v, lighttpd $lighttpd_v, iperf3 $(command -v iperf3 >/dev/null && iperf3 -v | sed -n '1s/^iperf \([^ ]*\).*/\1/p' || echo "not installed")."
	echo "Every figure is from this one run; the ratios divide by the reference in the same row. See bench/README.md for what each row measures."
	cat "$rows"
} >"$work/RESULTS.md"
cp "$work/RESULTS.md" bench/RESULTS.md
cat bench/RESULTS.md
