#!/bin/sh
# Makes sure the build dependencies are present before `make run` and
# `make check`. When pkg-config cannot find one of them and we are root on
# Debian or Ubuntu, install the missing packages with apt-get (after
# `apt-get update`: a fresh machine has empty package lists). Otherwise say
# exactly which packages are missing and fail.
set -u

# pkg-config module -> Debian package
MODULES="libwebsockets:libwebsockets-dev libcjson:libcjson-dev lmdb:liblmdb-dev libmd:libmd-dev cmocka:libcmocka-dev openssl:libssl-dev"

missing_packages() {
	missing=""
	command -v pkg-config >/dev/null 2>&1 || missing="pkg-config"
	for pair in $MODULES; do
		mod=${pair%%:*}
		pkg=${pair#*:}
		if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists "$mod"; then
			missing="$missing $pkg"
		fi
	done
	echo $missing
}

need=$(missing_packages)
[ -z "$need" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing $need"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null || { echo "deps: apt-get update failed" >&2; exit 1; }
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $need >/dev/null || {
		echo "deps: apt-get install $need failed" >&2; exit 1; }
	need=$(missing_packages)
	[ -z "$need" ] && exit 0
fi

echo "deps: missing packages: $need" >&2
echo "deps: install them (apt-get install $need) or run this as root on Debian/Ubuntu" >&2
exit 1
