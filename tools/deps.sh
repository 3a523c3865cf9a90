#!/bin/sh
# deps.sh build|check|test: installs the Debian packages chatd needs when they are missing:
# to build it (build), to run the C and Python suites (check: make unit, integration,
# check; no Node.js), or to run every suite (test: also Chromium, Node.js and npm for the
# browser and Node suites). As root it runs apt-get, waiting for another apt or dpkg to
# let go of its lock; otherwise it prints the exact command to run and fails.
set -eu

build_pkgs="gcc make pkg-config libssl-dev libhiredis-dev"
check_pkgs="libcmocka-dev redis-server python3-websockets python3-pytest
	python3-prometheus-client openssl curl"
browser_pkgs="chromium"
# Debian 12's own nodejs (18) is enough: tests/browser and tests/node pin versions of
# playwright-core and ws that support it.
NODE_MIN=18
# Seconds to wait for the dpkg and apt locks (a freshly booted machine runs its own apt).
LOCK_WAIT=600

mode=${1:-build}
case $mode in
build) want="$build_pkgs" ;;
check) want="$build_pkgs $check_pkgs" ;;
test) want="$build_pkgs $check_pkgs $browser_pkgs" ;;
*)
	echo "usage: $0 build|check|test" >&2
	exit 2
	;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ "$mode" = test ]; then
	# Any Node.js on PATH will do (Debian's, or one installed another way) if it is
	# recent enough; only a missing node or npm is installed from Debian.
	if command -v node >/dev/null 2>&1; then
		major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
		if [ "$major" -lt "$NODE_MIN" ]; then
			echo "chatd's browser and Node tests need Node.js >= $NODE_MIN;" \
				"$(command -v node) is $(node --version 2>&1)" >&2
			exit 1
		fi
	else
		missing="$missing nodejs"
	fi
	command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "chatd needs these Debian packages:$missing" >&2
	echo "install them with: sudo apt-get install -y$missing" >&2
	exit 1
fi

echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# apt-get update has no lock timeout of its own in Debian 12's apt: retry it while
# another apt holds the lists lock, for up to LOCK_WAIT seconds.
waited=0
until apt-get -o DPkg::Lock::Timeout=$LOCK_WAIT update -qq; do
	if [ "$waited" -ge "$LOCK_WAIT" ]; then
		echo "deps.sh: apt-get update kept failing for $LOCK_WAIT s" >&2
		exit 1
	fi
	echo "deps.sh: apt-get update failed (another apt running?); retrying in 10 s" >&2
	sleep 10
	waited=$((waited + 10))
done
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=$LOCK_WAIT install -y -qq $missing >/dev/null
