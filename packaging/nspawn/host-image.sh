#!/usr/bin/env bash
# Prints the path of a booted-host image: a Debian bookworm root file system with systemd as
# init, Debian's tomcat10 and haproxy, sshd and the tools the booted-host tests use, made with
# debootstrap from Debian's mirror (apt inside a booted container has no route out). Kept in
# .cache/nspawn/ in the clone and named by a hash of this file, so a changed recipe is rebuilt.
# Boot it with agent/test/helpers/nspawn.ts (one overlay per container; the image stays pristine).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: packaging/nspawn/host-image.sh [--help]

Builds (once, as root, with debootstrap) and prints the directory of the booted-host image.
DEBIAN_MIRROR overrides the mirror (default: the first deb.debian.org-like URI in apt's sources).
USAGE
}
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  '') ;;
  *) echo "host-image: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac

# What the booted host runs: systemd as PID 1, Tomcat, a load balancer, sshd for the fleet tests.
packages=systemd,systemd-sysv,dbus,libpam-systemd,tomcat10,tomcat10-admin,haproxy,openssh-server,iproute2,procps,curl,adduser,ca-certificates

root="$(cd "$(dirname "$0")/../.." && pwd)"
hash="$(sha256sum "$0" | cut -c1-12)"
cache="$root/.cache/nspawn"
image="$cache/bookworm-$hash"

mirror_from_apt() {
  sed -n 's/^URIs: *\(http[^ ]*\/debian\)\/* *$/\1/p; s/^deb \(\[[^]]*\] \)\{0,1\}\(http[^ ]*\/debian\)\/* bookworm .*/\2/p' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1 || true
}

if [ ! -e "$image/.complete" ]; then
  command -v debootstrap >/dev/null || { echo "host-image: debootstrap not found: apt-get install debootstrap (scripts/install-system-deps.sh)" >&2; exit 1; }
  [ "$(id -u)" = 0 ] || { echo "host-image: debootstrap needs root" >&2; exit 1; }
  mirror="${DEBIAN_MIRROR:-$(mirror_from_apt)}"
  mirror="${mirror:-http://deb.debian.org/debian}"
  mkdir -p "$cache"
  work="$(mktemp -d "$cache/build.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  started=$(date +%s)
  # policy-rc.d: nothing starts while the image is made (there is no init yet anyway).
  debootstrap --variant=minbase --include="$packages" bookworm "$work/rootfs" "$mirror" >"$work/log" 2>&1 ||
    { tail -n 50 "$work/log" >&2; echo "host-image: debootstrap failed (log above)" >&2; exit 1; }
  rootfs="$work/rootfs"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  # Each container gets its own machine-id and host keys when it is booted, not from the image.
  : >"$rootfs/etc/machine-id"
  rm -f "$rootfs"/etc/ssh/ssh_host_*
  # A booted host as a Tomcat host is: tomcat10 enabled. HAProxy and sshd are there for the tests
  # that want them (and sshd has no host keys yet: ssh-keygen -A); timers and the console login
  # would only add noise to a test's boot.
  systemctl --root="$rootfs" disable haproxy.service ssh.service >/dev/null 2>&1
  for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer console-getty.service; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
  done
  echo "bookworm booted host, built in $(($(date +%s) - started)) s from $mirror" >"$rootfs/etc/host-image"
  rm -rf "$cache"/bookworm-*
  mv "$rootfs" "$image"
  touch "$image/.complete"
fi
echo "$image"
