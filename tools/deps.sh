#!/bin/sh
# deps.sh build|test: installs the Debian packages chatd needs to build (and, with
# "test", to run its tests) when they are missing. As root it runs apt-get; otherwise it
# prints the exact command to run and fails.
set -eu

build_pkgs="gcc make pkg-config libssl-dev libhiredis-dev"
test_pkgs="libcmocka-dev redis-server python3-websockets python3-pytest python3-prometheus-client chromium openssl curl"

missing=""
want="$build_pkgs"
[ "${1:-build}" = test ] && want="$build_pkgs $test_pkgs"
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ "${1:-build}" = test ]; then
	# The browser test needs Node.js 20 or later with npm (Debian 12's own nodejs is 18).
	major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
	if [ "$major" -lt 20 ] || ! command -v npm >/dev/null 2>&1; then
		echo "chatd's browser test needs Node.js >= 20 with npm (found: ${major:-none})." >&2
		echo "install it from https://nodejs.org or your distribution's backports" >&2
		exit 1
	fi
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
	echo "deps.sh: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing >/dev/null
else
	echo "chatd needs these Debian packages:$missing" >&2
	echo "install them with: sudo apt-get install -y$missing" >&2
	exit 1
fi
