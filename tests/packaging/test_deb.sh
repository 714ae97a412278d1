#!/bin/sh
# Checks the .deb packages `make deb` built (run by `make test-deb`, inside the build
# root): their control data and contents, lintian, the binaries in them, the systemd
# units (systemd-analyze verify and security, offline), the nats-server templates
# (nats-server -t), and a real install, upgrade, removal and purge of the amd64
# package with dpkg, maintainer scripts included, in a throwaway overlay of the build
# root (the root itself is never changed). Prints `N passed, N failed`.
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
			./usr/share/doc/outpost/copyright ./usr/share/doc/outpost/changelog.gz \
			./usr/share/man/man1/outpost.1.gz ./usr/share/lintian/overrides/outpost \
			./var/lib/outpost/sync/ ./var/lib/outpost/agent/ ./var/lib/outpost/host/; do
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
	case $arch in
	amd64) want='x86-64' run="$x/usr/bin/outpost" ;;
	arm64) want='ARM aarch64' run="qemu-aarch64-static $x/usr/bin/outpost" ;;
	esac
	check "$arch: the binary is static, stripped, $want" "
		f=\$(file -b $x/usr/bin/outpost); echo \"\$f\"
		echo \"\$f\" | grep -q '$want' && echo \"\$f\" | grep -q 'statically linked' &&
			echo \"\$f\" | grep -q ', stripped'"
	check "$arch: the binary runs: --version says $VERSION" "$run --version | grep -q '^outpost $VERSION '"
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

# --- install, reinstall (upgrade path), remove, purge: dpkg in an overlay of the root ---
# A private mount namespace holds an overlay whose lower layer is this root and whose
# upper layer is a tmpfs: dpkg and the maintainer scripts (adduser, chown) change only
# the upper layer, which vanishes with the namespace.
cp "$(deb amd64)" "$tmp/outpost.deb"
cat >"$tmp/install.sh" <<'EOF'
set -eu
t=$1
mount -t tmpfs tmpfs "$t/ov"
mkdir -p "$t/ov/upper" "$t/ov/work" "$t/merged"
mount -t overlay overlay -o "lowerdir=/,upperdir=$t/ov/upper,workdir=$t/ov/work" "$t/merged"
mount -t proc proc "$t/merged/proc"
cp "$t/outpost.deb" "$t/merged/tmp/outpost.deb"
chroot "$t/merged" sh -c '
	set -eu
	say() { echo "== $*"; }
	dpkg -i /tmp/outpost.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
	say installed; dpkg-query -W -f "\${Status} \${Version}\n" outpost
	say user; getent passwd outpost | cut -d: -f1,6,7
	say dirs; stat -c "%n %U:%G %a" /var/lib/outpost/sync /var/lib/outpost/agent /var/lib/outpost/host
	say runs; /usr/bin/outpost --version | head -1
	dpkg -i /tmp/outpost.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
	say reinstalled; dpkg-query -W -f "\${Status}\n" outpost
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
unshare -m --propagation unchanged sh "$tmp/install.sh" "$tmp" >"$tmp/install.out" 2>&1
rc=$?
for s in installed user dirs runs reinstalled removed purged; do
	sed -n "/^== $s\$/,/^== /p" "$tmp/install.out" | grep -v '^== ' >"$tmp/sect-$s"
done
check "dpkg -i installs it (postinst included)" "cat $tmp/install.out | head -30; [ $rc = 0 ] && cat $tmp/sect-installed | grep -qx 'install ok installed $VERSION'"
check "postinst made the system user outpost, home /var/lib/outpost, no shell" "
	cat $tmp/sect-user; cat $tmp/sect-user | grep -qx 'outpost:/var/lib/outpost:/usr/sbin/nologin'"
check "state dirs: sync and agent outpost's (0750), host root's (0700)" "
	cat $tmp/sect-dirs; cat $tmp/sect-dirs | tr '\n' ' ' | grep -q '^/var/lib/outpost/sync outpost:outpost 750 /var/lib/outpost/agent outpost:outpost 750 /var/lib/outpost/host root:root 700 \$'"
check "the installed binary runs" "cat $tmp/sect-runs | grep -q '^outpost $VERSION '"
check "reinstalling over itself (the upgrade path of the scripts) works" "cat $tmp/sect-reinstalled | grep -qx 'install ok installed'"
check "dpkg -r removes the binary, keeps conffiles and state" "
	cat $tmp/sect-removed; cat $tmp/sect-removed | grep -q 'deinstall ok config-files' &&
	cat $tmp/sect-removed | grep -q 'No such file' && cat $tmp/sect-removed | grep -qx '/etc/default/outpost-agent' &&
	cat $tmp/sect-removed | grep -qx 'agent'"
check "dpkg -P removes conffiles and /var/lib/outpost" "
	cat $tmp/sect-purged; [ \$(cat $tmp/sect-purged | grep -c 'No such file') = 2 ]"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
