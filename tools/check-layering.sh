#!/bin/sh
# check-layering.sh FILE...: fails when a handler or example includes one of chatd's
# internal headers. Such code sees chatd through include/chatd.h alone; system headers are
# fine. An internal header is any other file in include/ or src/.
set -eu
cd "$(dirname "$0")/.."
status=0
for f in "$@"; do
	[ -f "$f" ] || continue
	for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\([^>"]*\)[>"].*/\1/p' "$f"); do
		[ "$h" = chatd.h ] && continue
		if [ -e "include/$h" ] || [ -e "src/$h" ]; then
			echo "$f: includes the internal header $h; handlers use chatd.h only" >&2
			status=1
		fi
	done
done
exit $status
