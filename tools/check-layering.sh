#!/bin/sh
# check-layering.sh FILE...: fails when a handler or example includes one of chatd's
# internal headers. Such code sees chatd through include/chatd.h alone; system headers are
# fine. An internal header is any other file in include/ or src/, except the pure codecs
# listed in PURE: they depend on nothing of chatd's (no connection, hub or server), so a
# handler may use them as it would any library (src/handler_v1.c parses JSON with json.h),
# and a handler's own private headers (src/handler_*.h), which are checked themselves.
set -eu
cd "$(dirname "$0")/.."
PURE="json.h percent.h"
status=0
for f in "$@"; do
	[ -f "$f" ] || continue
	for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\([^>"]*\)[>"].*/\1/p' "$f"); do
		[ "$h" = chatd.h ] && continue
		case " $PURE " in *" $h "*) continue ;; esac
		case "$h" in handler_*.h) [ -e "src/$h" ] && continue ;; esac
		if [ -e "include/$h" ] || [ -e "src/$h" ]; then
			echo "$f: includes the internal header $h; handlers use chatd.h only" >&2
			status=1
		fi
	done
done
exit $status
