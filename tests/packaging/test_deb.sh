#!/bin/sh
# Checks the .deb packages `make deb` built (run by `make test-deb`, inside the build
# root): their control data and contents, lintian, the binaries in them, the systemd
# units (systemd-analyze verify and security, offline), the nats-server templates
# (nats-server -t), the manual page (every command and option of every --help), and a
# real install, upgrade, removal and purge of the amd64 package with dpkg, maintainer
# scripts included, in a throwaway overlay of the build root (the root itself is never
# changed). Between install and upgrade, the README's Quick start runs there as it is
# written, taken from between its markers: only systemctl, which needs a running
# systemd, is stood in for by starting each unit as its unit file says. Prints
# `N passed, N failed`.
# Usage: VERSION=0.1.0 tests/packaging/test_deb.sh   (from the checkout)
set -u
: "${VERSION:?set VERSION (build.mk's)}"
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# check NAME COMMAND...: runs COMMAND (a shell string), counts it, shows its output
# when it fails.
check() {
	name=$1
	shift
	if out=$(sh -c "$*" 2>&1); then
		pass=$((pass + 1))
		echo "ok   $name"
	else
		fail=$((fail + 1))
		echo "FAIL $name"
		printf '%s\n' "$out" | sed 's/^/    /' | head -40
	fi
}

deb() { echo "outpost_${VERSION}_$1.deb"; }

# The manual page against the binary beside it: a section per command of `outpost
# --help` (and the shim), holding every option that command's --help lists, and no
# complaint from man. Usage: sh mancheck.sh MANPAGE.gz OUTPOST...
cat >"$tmp/mancheck.sh" <<'EOF'
set -eu
page=$1
shift
zcat "$page" >"$page.1"
LC_ALL=C.UTF-8 MANWIDTH=100 man --warnings -E UTF-8 -l -Tutf8 "$page.1" 2>"$page.err" |
	sed 's/\x1b\[[0-9;]*m//g' >"$page.txt"
[ ! -s "$page.err" ] || { cat "$page.err"; exit 1; }
cmds=$("$@" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
[ -n "$cmds" ] || { echo "no commands in --help"; exit 1; }
n=0
for c in $cmds shim; do
	awk -v h="   outpost $c" '$0 == h { on = 1; next } /^   [a-z]/ || /^[A-Z]/ { on = 0 } on' \
		"$page.txt" >"$page.sec"
	[ -s "$page.sec" ] || { echo "outpost(1) has no section for outpost $c"; exit 1; }
	grep -q "^ *outpost $c " "$page.txt" || { echo "no synopsis of outpost $c"; exit 1; }
	for o in $("$@" "$c" --help | grep -o '^  \(-h, \)\?--[a-z-]*' | sed 's/.*--/--/'); do
		grep -q -e "^ *$o\( \|$\)" -e "^ *-h, $o\( \|$\)" "$page.sec" ||
			{ echo "outpost(1), outpost $c: no option $o"; exit 1; }
		n=$((n + 1))
	done
done
echo "$n options of $(echo $cmds shim | wc -w) commands"
[ "$n" -gt 40 ]
EOF

# The same for the README's list of commands (the first block under "## Commands").
# Usage: sh readmecheck.sh README.md OUTPOST...
cat >"$tmp/readmecheck.sh" <<'EOF'
set -eu
readme=$1
shift
list=$(awk '/^## Commands$/ { on = 1; next } on && /^```$/ { if (n++) exit; next } on && n' "$readme")
[ -n "$list" ] || { echo "no list of commands under ## Commands"; exit 1; }
for c in $("$@" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
	echo "$list" | grep -q "^outpost $c " || { echo "README: no outpost $c"; exit 1; }
	for o in $("$@" "$c" --help | grep -o '^  --[a-z-]*' | sed 's/^ *//'); do
		echo "$list" | grep -Eq -- "$o([] ]|$)" || { echo "README: outpost $c: no $o"; exit 1; }
	done
done
EOF

# --- each package: control data, contents, the binary, lintian ------------------------
for arch in amd64 arm64; do
	d=$(deb "$arch")
	x=$tmp/x-$arch
	check "$arch: $d exists" "test -s $d"
	check "$arch: control fields" "
		dpkg-deb --info $d >$tmp/info-$arch
		grep -qx ' Package: outpost' $tmp/info-$arch
		grep -qx ' Version: $VERSION' $tmp/info-$arch
		grep -qx ' Architecture: $arch' $tmp/info-$arch
		grep -qx ' Depends: adduser' $tmp/info-$arch
		grep -qx ' Recommends: nats-server (>= 2.10), wasmedge (>= 0.14)' $tmp/info-$arch
		grep -q '^ Static-Built-Using: .*nats.c (= .*libgit2 (= ' $tmp/info-$arch
		grep -q '^ Installed-Size: [0-9]' $tmp/info-$arch
		dpkg-deb --ctrl-tarfile $d | tar -t | sort | tr '\\n' ' ' |
			grep -qx './ ./conffiles ./control ./md5sums ./postinst ./postrm ./prerm '"
	check "$arch: contents" "
		dpkg-deb --contents $d >$tmp/contents-$arch
		for p in ./usr/bin/outpost ./usr/lib/systemd/system/outpost-sync.service \
			./usr/lib/systemd/system/outpost-agent.service \
			./usr/lib/systemd/system/outpost-host.service ./etc/default/outpost-sync \
			./etc/default/outpost-agent ./etc/default/outpost-host \
			./usr/share/outpost/nats-hub.conf ./usr/share/outpost/nats-site.conf \
			./usr/share/outpost/nats-site.service.conf \
			./usr/share/doc/outpost/copyright ./usr/share/doc/outpost/changelog.gz \
			./usr/share/man/man1/outpost.1.gz ./usr/share/lintian/overrides/outpost \
			./etc/outpost/ ./usr/share/doc/outpost/examples/apps/gateway.yaml \
			./usr/share/doc/outpost/examples/apps/thermo.yaml ./var/lib/outpost/sync/ ./var/lib/outpost/agent/ ./var/lib/outpost/host/; do
			grep -q \" \$p\$\" $tmp/contents-$arch || { echo missing \$p; exit 1; }
		done
		! grep -v ' root/root ' $tmp/contents-$arch
		grep -q '^-rwxr-xr-x root/root .* ./usr/bin/outpost$' $tmp/contents-$arch"
	check "$arch: conffiles are the /etc/default files" "
		dpkg-deb --ctrl-tarfile $d | tar -xO ./conffiles >$tmp/conffiles-$arch
		printf '/etc/default/outpost-agent\n/etc/default/outpost-host\n/etc/default/outpost-sync\n' |
			diff - $tmp/conffiles-$arch"
	check "$arch: md5sums match" "
		mkdir -p $x && dpkg-deb -x $d $x && dpkg-deb --ctrl-tarfile $d | tar -xO ./md5sums >$tmp/md5-$arch
		cd $x && md5sum --quiet -c $tmp/md5-$arch"
	check "$arch: the examples are the source's" "
		for f in examples/apps/*.yaml; do
			cmp \$f $x/usr/share/doc/outpost/examples/apps/\${f##*/} || exit 1
		done"
	case $arch in
	amd64) want='x86-64' run="$x/usr/bin/outpost" ;;
	arm64) want='ARM aarch64' run="qemu-aarch64-static $x/usr/bin/outpost" ;;
	esac
	check "$arch: the binary is static, stripped, $want" "
		f=\$(file -b $x/usr/bin/outpost); echo \"\$f\"
		echo \"\$f\" | grep -q '$want' && echo \"\$f\" | grep -q 'statically linked' &&
			echo \"\$f\" | grep -q ', stripped'"
	check "$arch: the binary runs: --version says $VERSION" "$run --version | grep -q '^outpost $VERSION '"
	check "$arch: outpost(1) has every command and every option of their --help" "
		sh $tmp/mancheck.sh $x/usr/share/man/man1/outpost.1.gz $run"
	if [ "$arch" = amd64 ]; then
		check "README's Commands list every command and every option of their --help" "
			sh $tmp/readmecheck.sh README.md $run"
	fi
	# lintian as an unprivileged user (it warns when run as root); every tag counts,
	# pedantic and experimental ones too, unless overridden with a reason.
	check "$arch: lintian is clean" "
		cp $d $tmp/ && chmod 0644 $tmp/$d && chmod 0755 $tmp
		out=\$(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=$tmp \
			lintian --pedantic --display-experimental --display-info $tmp/$d 2>&1); rc=\$?
		echo \"\$out\"; [ \$rc = 0 ] && [ -z \"\$out\" ]"
done

# --- the systemd units -------------------------------------------------------------------
x=$tmp/x-amd64
units=$x/usr/lib/systemd/system
# verify --root resolves everything in that tree (ExecStart's binary, sysinit.target):
# give it the root's own units beside ours.
cp -an /usr/lib/systemd/system/. "$units/" 2>/dev/null
check "systemd-analyze verify: no complaint about the units" "
	cd $units && out=\$(systemd-analyze verify --man=no --root=$x outpost-sync.service \
		outpost-agent.service outpost-host.service 2>&1); rc=\$?
	echo \"\$out\"; [ \$rc = 0 ] && [ -z \"\$out\" ]"
check "systemd-analyze verify does catch a broken unit (the check above works)" "
	printf '[Service]\nExecStart=/usr/bin/outpost agent\nKillMode=sometimes\n' >$units/outpost-broken.service
	cd $units && out=\$(systemd-analyze verify --man=no --root=$x outpost-broken.service 2>&1)
	rm -f $units/outpost-broken.service; echo \"\$out\" | grep -q 'kill mode'"
check "sync and agent units: exposure at most 4.0 (systemd-analyze security)" "
	cd $units && systemd-analyze security --offline=yes --root=$x --threshold=40 --no-pager \
		outpost-sync.service outpost-agent.service | grep 'Overall exposure'"
for role in sync agent; do
	check "outpost-$role.service: hardened, as user outpost, its state dir writable" "
		u=$units/outpost-$role.service
		for l in User=outpost NoNewPrivileges=yes ProtectSystem=strict Restart=always \
			ReadWritePaths=/var/lib/outpost/$role EnvironmentFile=/etc/default/outpost-$role \
			RestartPreventExitStatus=2; do
			grep -qx \"\$l\" \$u || { echo no \$l; exit 1; }
		done
		grep -qx 'ExecStart=/usr/bin/outpost $role \$OUTPOST_$(echo $role | tr a-z A-Z)_ARGS' \$u"
done
check "outpost-host.service: KillMode=process, root, nothing its workloads would inherit" "
	u=$units/outpost-host.service
	for l in KillMode=process Restart=always EnvironmentFile=/etc/default/outpost-host \
		'ExecStart=/usr/bin/outpost host \$OUTPOST_HOST_ARGS'; do
		grep -qx \"\$l\" \$u || { echo no \$l; exit 1; }
	done
	! grep -E '^(User|Group|DynamicUser|NoNewPrivileges|Protect|Private|ReadOnly|ReadWrite|Inaccessible|Restrict|SystemCall|Capability|MemoryDeny|LockPersonality|RootDirectory|TemporaryFileSystem|BindPaths)' \$u"
# The unit's ExecStart with the default flags of /etc/default: a usage error (exit 2,
# which RestartPreventExitStatus=2 keeps from looping) until the operator fills in
# what only they know.
for role in sync agent host; do
	check "unconfigured outpost-$role stops with a usage error, not a restart loop" "
		. $x/etc/default/outpost-$role
		eval args=\\\$OUTPOST_$(echo $role | tr a-z A-Z)_ARGS
		[ -n \"\$args\" ] || exit 1
		$x/usr/bin/outpost $role \$args >$tmp/unconf.out 2>&1; rc=\$?
		cat $tmp/unconf.out | head -3; [ \$rc = 2 ] && grep -q 'required' $tmp/unconf.out"
done

# --- nats-server templates -------------------------------------------------------------
check "nats-hub.conf: valid for nats-server, sync_interval chosen" "
	grep -q '^  sync_interval: ' $x/usr/share/outpost/nats-hub.conf &&
	nats-server -t -c $x/usr/share/outpost/nats-hub.conf"
check "nats-site.conf: valid for nats-server once SITE and HUB are filled in, sync_interval chosen" "
	grep -q '^  sync_interval: ' $x/usr/share/outpost/nats-site.conf &&
	sed -e 's/SITE/plant-7/g' -e 's/HUB/hub.example.net/' $x/usr/share/outpost/nats-site.conf >$tmp/site.conf &&
	nats-server -t -c $tmp/site.conf"
check "nats-site.service.conf: a drop-in that runs the site's server with GOMAXPROCS=1" "
	grep -qx '\\[Service\\]' $x/usr/share/outpost/nats-site.service.conf &&
	grep -qx 'Environment=GOMAXPROCS=1' $x/usr/share/outpost/nats-site.service.conf &&
	! grep -v -e '^#' -e '^\\[Service\\]\$' -e '^Environment=' $x/usr/share/outpost/nats-site.service.conf &&
	grep -q 'nats-server.service.d/outpost-site.conf' $x/usr/share/outpost/nats-site.service.conf"
check "the templates say they need nats-server 2.10" "
	grep -q '^# Needs nats-server 2.10 or later' $x/usr/share/outpost/nats-hub.conf &&
	grep -q '^# Needs nats-server 2.10 or later' $x/usr/share/outpost/nats-site.conf"
check "nats-hub.conf: without credentials, both ports on 127.0.0.1 only" "
	grep -qx 'listen: 127.0.0.1:4222' $x/usr/share/outpost/nats-hub.conf &&
	sed -n '/^leafnodes {/,/^}/p' $x/usr/share/outpost/nats-hub.conf | grep -qx '  listen: 127.0.0.1:7422' &&
	! grep -v '^ *#' $x/usr/share/outpost/nats-hub.conf | grep -e 0.0.0.0 -e '^ *port:'"
# What each template's closing comment says to do once `outpost creds` ran.
check "nats-hub.conf with credentials, as its comment says: valid" "
	$x/usr/bin/outpost creds --out $tmp/creds --hub-leaf nats-leaf://hub.example.net:7422 \
		--site plant-7 --host plant-7:gw-1 >/dev/null &&
	mkdir $tmp/etc-hub && cp $tmp/creds/hub/hub.conf $tmp/etc-hub/nats-server-outpost.conf &&
	sed -e 's/^#include /include /' -e 's/127.0.0.1:4222/0.0.0.0:4222/' \
		-e 's/127.0.0.1:7422/0.0.0.0:7422/' $x/usr/share/outpost/nats-hub.conf \
		>$tmp/etc-hub/nats-server.conf &&
	grep -qx 'include \"nats-server-outpost.conf\"' $tmp/etc-hub/nats-server.conf &&
	nats-server -t -c $tmp/etc-hub/nats-server.conf"
check "nats-site.conf with credentials, as its comment says: valid" "
	mkdir $tmp/etc-site && cp $tmp/creds/plant-7/site.conf $tmp/etc-site/nats-server-outpost.conf &&
	sed -e 's/SITE/plant-7/g' -e 's/HUB/hub.example.net/' -e 's/^#include /include /' \
		-e '/^leafnodes {/,/^}/d' $x/usr/share/outpost/nats-site.conf >$tmp/etc-site/nats-server.conf &&
	nats-server -t -c $tmp/etc-site/nats-server.conf"

# --- install, the Quick start, reinstall (upgrade path), remove, purge: in an overlay ---
# A private mount namespace holds an overlay whose lower layer is this root and whose
# upper layer is a tmpfs: dpkg and the maintainer scripts (adduser, chown) change only
# the upper layer, which vanishes with the namespace. A private network namespace (its
# own loopback) lets the Quick start's nats-server take its fixed ports whatever else
# runs on this machine.
cp "$(deb amd64)" "$tmp/outpost.deb"

# The README's Quick start, as an operator copies it: every ```sh block between its
# markers, in order. Run by bash -e as root, from root's home, after the stand-ins.
awk '/^<!-- quick-start: begin -->$/ { on = 1; next }
	/^<!-- quick-start: end -->$/ { on = 0 }
	on && /^```sh$/ { code = 1; next }
	on && /^```$/ { code = 0; next }
	code' README.md >"$tmp/quickstart.sh"
check "README: the Quick start, between its markers, starts a hub and its sync unit" "
	cat $tmp/quickstart.sh; grep -q '^systemctl restart nats-server$' $tmp/quickstart.sh &&
	grep -q '^systemctl enable --now outpost-sync$' $tmp/quickstart.sh &&
	grep -q '^outpost sync --now$' $tmp/quickstart.sh"

# systemctl needs a running systemd, which the overlay has not: its stand-in makes the
# [Install] links with the real `systemctl enable` (which works offline), and starts a
# unit the way systemd would: its ExecStart= in the background, as its User= and Group=,
# with its UMask= and EnvironmentFile=, from its unit file. It then waits until the
# unit serves (an operator's next command comes seconds later): nats-server's
# "Server is ready", sync's subscription to outpost.hub.sync.now (nats-server's
# monitoring port, which the hub template opens on 127.0.0.1).
cat >"$tmp/standin.sh" <<'EOF'
STANDIN=/run/standin
mkdir -p "$STANDIN"
standin_key() { sed -n "s/^$2=//p" "$1" | tail -n 1; }
standin_http() {
	exec 3<>/dev/tcp/127.0.0.1/8222 || return 1
	printf 'GET %s HTTP/1.0\r\n\r\n' "$1" >&3
	cat <&3
}
standin_stop() {
	local - pid end=$((SECONDS + 30))
	set +x
	[ -f "$STANDIN/$1.pid" ] || return 0
	pid=$(cat "$STANDIN/$1.pid")
	rm -f "$STANDIN/$1.pid"
	kill "$pid" 2>/dev/null || return 0
	while [ -d "/proc/$pid" ] && [ $SECONDS -lt $end ]; do sleep 0.1; done
	[ ! -d "/proc/$pid" ]
}
standin_ready() {
	local - pid end=$((SECONDS + 30))
	set +x
	pid=$(cat "$STANDIN/$1.pid")
	while :; do
		kill -0 "$pid" 2>/dev/null ||
			{ echo "systemctl stand-in: $1 exited:" >&2; cat "$STANDIN/$1.log" >&2; return 1; }
		case $1 in
		nats-server) grep -q 'Server is ready' "$STANDIN/$1.log" && return 0 ;;
		outpost-sync) (standin_http '/connz?subs=1') 2>/dev/null |
			grep -q '"outpost.hub.sync.now"' && return 0 ;;
		*) return 0 ;;
		esac
		[ $SECONDS -lt $end ] ||
			{ echo "systemctl stand-in: $1 not ready in 30 s:" >&2; cat "$STANDIN/$1.log" >&2; return 1; }
		sleep 0.1
	done
}
standin_start() {
	local - u=${1%.service} f user group um envf cmd home
	set +x
	f=/usr/lib/systemd/system/$u.service
	[ -f "$f" ] || { echo "systemctl stand-in: no unit $u" >&2; return 1; }
	standin_stop "$u"
	user=$(standin_key "$f" User) && user=${user:-root}
	group=$(standin_key "$f" Group) && group=${group:-$user}
	um=$(standin_key "$f" UMask) && um=${um:-0022}
	envf=$(standin_key "$f" EnvironmentFile)
	cmd=$(standin_key "$f" ExecStart)
	home=$(getent passwd "$user" | cut -d: -f6)
	setpriv --reuid="$user" --regid="$group" --init-groups env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin HOME="$home" \
		USER="$user" LOGNAME="$user" sh -c '
			umask "$1"
			f=${2#-}
			if [ -n "$f" ]; then set -a; . "$f"; set +a; fi
			eval "exec $3"' sh "$um" "$envf" "$cmd" >"$STANDIN/$u.log" 2>&1 &
	echo $! >"$STANDIN/$u.pid"
	echo "systemctl stand-in: $u started as $user: $cmd"
	standin_ready "$u"
}
systemctl() {
	case "$1 ${2:-}" in
	"enable --now")
		shift 2
		command systemctl enable "$@" || return 1
		for u; do standin_start "$u" || return 1; done ;;
	"start "* | "restart "*)
		shift
		for u; do standin_start "$u" || return 1; done ;;
	*) echo "systemctl stand-in: not supported: systemctl $*" >&2; return 1 ;;
	esac
}
cd ~
set -x
EOF
cat "$tmp/standin.sh" "$tmp/quickstart.sh" >"$tmp/qs-run.sh"

cat >"$tmp/install.sh" <<'EOF'
set -eu
t=$1
# The new network namespace's loopback is down (and there is no `ip` here).
perl -e 'use Socket; socket(my $s, AF_INET, SOCK_DGRAM, 0) or die "socket: $!";
	my $r = pack("a16 x24", "lo"); ioctl($s, 0x8913, $r) or die "SIOCGIFFLAGS: $!";
	my $f = unpack("x16 s", $r);
	ioctl($s, 0x8914, pack("a16 s x22", "lo", $f | 1)) or die "SIOCSIFFLAGS: $!"'
mount -t tmpfs tmpfs "$t/ov"
mkdir -p "$t/ov/upper" "$t/ov/work" "$t/merged"
mount -t overlay overlay -o "lowerdir=/,upperdir=$t/ov/upper,workdir=$t/ov/work" "$t/merged"
mount -t proc proc "$t/merged/proc"
mount -t tmpfs tmpfs "$t/merged/run"
cp "$t/outpost.deb" "$t/qs-run.sh" "$t/merged/tmp/"
chroot "$t/merged" sh -c '
	set -eu
	say() { echo "== $*"; }
	dpkg -i /tmp/outpost.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
	say installed; dpkg-query -W -f "\${Status} \${Version}\n" outpost
	say user; getent passwd outpost | cut -d: -f1,6,7
	say dirs; stat -c "%n %U:%G %a" /var/lib/outpost/sync /var/lib/outpost/agent /var/lib/outpost/host
	say etc; stat -c "%n %U:%G %a" /etc/outpost
	say runs; /usr/bin/outpost --version | head -1

	# The Quick start on a root as fresh as a new box: no ssh key, no git identity.
	rm -rf /root/.ssh /root/.gitconfig /etc/gitconfig
	say quickstart
	if env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 TERM=dumb bash -e /tmp/qs-run.sh >/tmp/qs.log 2>&1; then
		echo "quick start: done"
	else
		echo "quick start: failed"
	fi
	cat /tmp/qs.log
	say qsfacts
	for u in nats-server outpost-sync; do
		p=$(cat /run/standin/$u.pid 2>/dev/null) && [ -d /proc/$p ] &&
			echo "$u runs as $(stat -c %U /proc/$p)"
	done
	awk "NR > 1 && \$4 == \"0A\" { print \"listen \" \$2 }" /proc/net/tcp /proc/net/tcp6
	echo "head $(git -C /srv/fleet rev-parse HEAD 2>&1)"
	outpost status --json 2>&1 | grep -e "\"commit\"" -e "\"outcome\"" | tr -d " ,"
	setpriv --reuid=outpost --regid=outpost --init-groups cat /etc/outpost/allowed_signers \
		>/dev/null 2>&1 && echo "outpost reads the policy"
	setpriv --reuid=outpost --regid=outpost --init-groups cat /root/.ssh/outpost-ops \
		>/dev/null 2>&1 && echo "outpost reads the private key"
	test -L /etc/systemd/system/multi-user.target.wants/outpost-sync.service &&
		echo "outpost-sync enabled"
	say unitlog; cat /run/standin/outpost-sync.log 2>&1 | tail -n 20
	# What the Quick start started stops before the package changes.
	for u in outpost-sync nats-server; do
		p=$(cat /run/standin/$u.pid 2>/dev/null) || continue
		kill $p 2>/dev/null || continue
		end=$(($(date +%s) + 30))
		while [ -d /proc/$p ] && [ $(date +%s) -lt $end ]; do sleep 0.1; done
	done

	dpkg -i /tmp/outpost.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
	say reinstalled; dpkg-query -W -f "\${Status}\n" outpost
	stat -c "%n %U:%G %a" /etc/outpost /etc/outpost/allowed_signers
	echo "# edited" >>/etc/default/outpost-agent
	echo "{}" >/var/lib/outpost/agent/revision.json
	dpkg -r outpost >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
	say removed; dpkg-query -W -f "\${Status}\n" outpost
	ls /usr/bin/outpost 2>&1 || true
	ls /etc/default/outpost-agent /var/lib/outpost
	dpkg -P outpost >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
	say purged; dpkg-query -W -f "\${Status}\n" outpost 2>&1 || true
	ls /etc/default/outpost-agent /var/lib/outpost 2>&1 || true
'
EOF
mkdir -p "$tmp/ov"
unshare -m -n --propagation unchanged sh "$tmp/install.sh" "$tmp" >"$tmp/install.out" 2>&1
rc=$?
for s in installed user dirs etc runs quickstart qsfacts unitlog reinstalled removed purged; do
	sed -n "/^== $s\$/,/^== /p" "$tmp/install.out" | grep -v '^== ' >"$tmp/sect-$s"
done
check "dpkg -i installs it (postinst included)" "cat $tmp/install.out | head -30; [ $rc = 0 ] && cat $tmp/sect-installed | grep -qx 'install ok installed $VERSION'"
check "postinst made the system user outpost, home /var/lib/outpost, no shell" "
	cat $tmp/sect-user; cat $tmp/sect-user | grep -qx 'outpost:/var/lib/outpost:/usr/sbin/nologin'"
check "state dirs: sync and agent outpost's (0750), host root's (0700)" "
	cat $tmp/sect-dirs; cat $tmp/sect-dirs | tr '\n' ' ' | grep -q '^/var/lib/outpost/sync outpost:outpost 750 /var/lib/outpost/agent outpost:outpost 750 /var/lib/outpost/host root:root 700 \$'"
check "/etc/outpost: root's, group outpost (0750)" "
	cat $tmp/sect-etc; cat $tmp/sect-etc | grep -qx '/etc/outpost root:outpost 750'"
check "the installed binary runs" "cat $tmp/sect-runs | grep -q '^outpost $VERSION '"
check "the README's Quick start runs as written, to its end" "
	tail -n 40 $tmp/sect-quickstart; grep -qx 'quick start: done' $tmp/sect-quickstart"
check "Quick start: its first pass by hand accepted the signed commit" "
	grep -q '^hub sync: accepted commit ' $tmp/sect-quickstart"
check "Quick start: nats-server ran as nats, on 127.0.0.1 only (4222, 7422, 8222)" "
	cat $tmp/sect-qsfacts; grep -qx 'nats-server runs as nats' $tmp/sect-qsfacts &&
	grep -qx 'listen 0100007F:107E' $tmp/sect-qsfacts && grep -qx 'listen 0100007F:1CFE' $tmp/sect-qsfacts &&
	grep -qx 'listen 0100007F:201E' $tmp/sect-qsfacts &&
	! grep '^listen' $tmp/sect-qsfacts | grep -v '^listen 0100007F:'"
check "Quick start: the unit's sync, as outpost, published the second commit (sync --now)" "
	cat $tmp/sect-qsfacts; cat $tmp/sect-unitlog
	grep -qx 'outpost-sync runs as outpost' $tmp/sect-qsfacts &&
	grep -qx 'outpost-sync enabled' $tmp/sect-qsfacts &&
	grep -qx '\"outcome\":\"accepted\"' $tmp/sect-qsfacts &&
	head=\$(sed -n 's/^head //p' $tmp/sect-qsfacts) && [ \${#head} = 40 ] &&
	grep -qx \"\\\"commit\\\":\\\"\$head\\\"\" $tmp/sect-qsfacts &&
	grep -q \"outcome=accepted commit=\$(echo \$head | cut -c1-12) \" $tmp/sect-unitlog"
check "Quick start: outpost reads the trust policy in /etc/outpost, not root's private key" "
	cat $tmp/sect-qsfacts; grep -qx 'outpost reads the policy' $tmp/sect-qsfacts &&
	! grep -q 'outpost reads the private key' $tmp/sect-qsfacts"
check "reinstalling over itself (the upgrade path of the scripts) works, /etc/outpost kept" "
	cat $tmp/sect-reinstalled; cat $tmp/sect-reinstalled | grep -qx 'install ok installed' &&
	grep -qx '/etc/outpost root:outpost 750' $tmp/sect-reinstalled &&
	grep -qx '/etc/outpost/allowed_signers root:root 644' $tmp/sect-reinstalled"
check "dpkg -r removes the binary, keeps conffiles and state" "
	cat $tmp/sect-removed; cat $tmp/sect-removed | grep -q 'deinstall ok config-files' &&
	cat $tmp/sect-removed | grep -q 'No such file' && cat $tmp/sect-removed | grep -qx '/etc/default/outpost-agent' &&
	cat $tmp/sect-removed | grep -qx 'agent'"
check "dpkg -P removes conffiles and /var/lib/outpost" "
	cat $tmp/sect-purged; [ \$(cat $tmp/sect-purged | grep -c 'No such file') = 2 ]"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
