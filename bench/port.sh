# Sourced by the bench scripts (bash).

# The TCP port pid listens on, from /proc alone (no ss or netstat needed): the inodes of
# the process's sockets, matched against LISTEN (state 0A) rows of /proc/net/tcp{,6}.
listening_port() {
	local pid=$1 inodes="" f link hex
	for f in /proc/"$pid"/fd/*; do
		link=$(readlink "$f" 2>/dev/null) || continue
		case $link in socket:\[*\]) inodes="$inodes ${link//[^0-9]/} " ;; esac
	done
	[ -n "$inodes" ] || return 1
	hex=$(awk -v inodes="$inodes" '$4 == "0A" && index(inodes, " " $10 " ") {
		split($2, a, ":"); print a[2]; exit }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)
	[ -n "$hex" ] || return 1
	printf '%d\n' "0x$hex"
}
