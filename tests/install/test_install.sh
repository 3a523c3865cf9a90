#!/bin/sh
# make install / make uninstall into a scratch DESTDIR with PREFIX=/usr: every file lands
# with its mode, the installed binary and man page work and carry the version from
# include/version.h, and uninstall leaves no file behind.
#
#   tests/install/test_install.sh        (from anywhere; it runs make at the repo root)
#
# The last line is "N passed, M failed"; the exit status is 0 only when M is 0.
set -u

cd "$(dirname "$0")/../.." || exit 1

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
# check DESCRIPTION COMMAND...: runs COMMAND, counts the result under DESCRIPTION.
check() {
	what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
# mode_is PATH MODE: the file exists, is a regular file, and has exactly MODE.
# shellcheck disable=SC2317 # only called through check, which shellcheck cannot see
mode_is() {
	[ -f "$1" ] && [ "$(stat -c %a "$1")" = "$2" ]
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

dest=$(mktemp -d) || exit 1
log=$(mktemp) || exit 1
trap 'rm -rf "$dest" "$log"' EXIT
prefix=/usr

# Until the top-level Makefile includes mk/install.mk, name both files (naming it when
# the Makefile already includes it would define every rule twice).
make=${MAKE:-make}
if grep -Eq '^-?include[[:space:]]+(.*[[:space:]])?mk/install\.mk([[:space:]]|$)' Makefile; then
	set -- "$make"
else
	set -- "$make" -f Makefile -f mk/install.mk
fi

version=$(sed -n 's/^#define CHATD_VERSION "\(.*\)"/\1/p' include/version.h)
check "include/version.h defines CHATD_VERSION" test -n "$version"

if "$@" install DESTDIR="$dest" PREFIX="$prefix" >"$log" 2>&1; then
	pass "make install DESTDIR=... PREFIX=$prefix"
else
	fail "make install DESTDIR=... PREFIX=$prefix"
	sed 's/^/    /' "$log"
	finish
fi

bin=$dest$prefix/bin/chatd
man=$dest$prefix/share/man/man8/chatd.8
page=$dest$prefix/share/chatd/chat.html
unit=$dest$prefix/share/chatd/chatd.service
check "bin/chatd installed, mode 755" mode_is "$bin" 755
check "share/man/man8/chatd.8 installed, mode 644" mode_is "$man" 644
check "share/chatd/chat.html installed, mode 644" mode_is "$page" 644
check "share/chatd/chatd.service installed, mode 644" mode_is "$unit" 644
units=$dest$prefix/share/chatd/chatd@.service
check "share/chatd/chatd@.service installed, mode 644" mode_is "$units" 644
check "share/chatd/nginx-chatd.conf installed, mode 644" \
	mode_is "$dest$prefix/share/chatd/nginx-chatd.conf" 644
check "installed template runs $prefix/bin/chatd with --reuseport --redis" \
	grep -q "^ExecStart=$prefix/bin/chatd --port 8080 --reuseport --redis " "$units"
check "chat.html is examples/chat.html" cmp -s "$page" examples/chat.html

out=$("$bin" --version 2>&1)
check "installed chatd --version prints 'chatd $version'" test "$out" = "chatd $version"

check "installed unit runs $prefix/bin/chatd" \
	grep -qx "ExecStart=$prefix/bin/chatd --port 8080" "$unit"
check "installed man page names version $version" grep -qx ".Os chatd $version" "$man"
check "installed man page's FILES name $prefix/share/chatd" \
	grep -qx ".It Pa $prefix/share/chatd/chat.html" "$man"
check "installed man page names no /usr/local path" sh -c "! grep -q /usr/local '$man'"

if command -v man >/dev/null 2>&1; then
	out=$(MANPAGER=cat PAGER=cat MANWIDTH=80 man -l "$man" 2>&1)
	status=$?
	check "man -l renders the installed page" test "$status" -eq 0
	case $out in
	*"WebSocket chat server"*"chatd $version"*) pass "man -l shows the name line and version" ;;
	*) fail "man -l shows the name line and version" ;;
	esac
else
	echo "skip man -l: man is not installed"
fi

check "include/chatd.h installed, mode 644" mode_is "$dest$prefix/include/chatd.h" 644
check "lib/libchatd.a installed, mode 644" mode_is "$dest$prefix/lib/libchatd.a" 644
check "lib/pkgconfig/chatd.pc installed, mode 644" mode_is "$dest$prefix/lib/pkgconfig/chatd.pc" 644

# A program built the way a user builds one: the tutorial's example against the installed
# header and library, found by pkg-config in a temporary prefix; then two clients chat
# through it.
tmpprefix=$(mktemp -d) || exit 1
trap 'rm -rf "$dest" "$log" "$tmpprefix"' EXIT
if "$@" install PREFIX="$tmpprefix" >"$log" 2>&1 &&
	flags=$(PKG_CONFIG_PATH="$tmpprefix/lib/pkgconfig" pkg-config --cflags --libs chatd) &&
	${CC:-cc} -std=c17 -Wall -Wextra -Werror -o "$tmpprefix/mychat" examples/mychat.c \
		$flags >>"$log" 2>&1; then
	pass "examples/mychat.c builds with pkg-config --cflags --libs chatd"
	"$tmpprefix/mychat" --port 0 --bind 127.0.0.1 --admin-listen off 2>"$tmpprefix/err" &
	pid=$!
	port=""
	for _ in $(seq 50); do
		port=$(sed -n 's/.*INFO listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmpprefix/err")
		[ -n "$port" ] && break
		sleep 0.1
	done
	check "the installed-library program chats" /usr/bin/python3 -c '
import asyncio, sys, websockets
async def main(url):
    async with websockets.connect(url) as a, websockets.connect(url) as b:
        await a.send("through libchatd")
        assert await asyncio.wait_for(b.recv(), 5) == "through libchatd"
asyncio.run(main(sys.argv[1]))' "ws://127.0.0.1:$port/"
	kill "$pid"
	wait "$pid"
	check "it exits 0 on SIGTERM" test $? -eq 0
else
	fail "examples/mychat.c builds with pkg-config --cflags --libs chatd"
	sed 's/^/    /' "$log"
fi

if "$@" uninstall DESTDIR="$dest" PREFIX="$prefix" >"$log" 2>&1; then
	pass "make uninstall DESTDIR=... PREFIX=$prefix"
else
	fail "make uninstall DESTDIR=... PREFIX=$prefix"
	sed 's/^/    /' "$log"
fi
left=$(find "$dest" ! -type d)
check "uninstall leaves no files" test -z "$left"
[ -z "$left" ] || echo "$left" | sed 's/^/    left: /'
check "uninstall removes share/chatd" test ! -e "$dest$prefix/share/chatd"

finish
