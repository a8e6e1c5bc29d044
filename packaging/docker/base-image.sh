#!/usr/bin/env bash
# Prints the path of a Debian bookworm minbase root file system as a tar, made with debootstrap
# from Debian's mirror when no image registry is reachable, and kept in .cache/ in the clone.
# Import it with: docker import "$(packaging/docker/base-image.sh)" NAME
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="$root/.cache/docker"
tarball="$cache/bookworm-minbase.tar"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || { echo "base-image: debootstrap not found: apt-get install debootstrap (scripts/install-system-deps.sh)" >&2; exit 1; }
  [ "$(id -u)" = 0 ] || { echo "base-image: debootstrap needs root" >&2; exit 1; }
  mkdir -p "$cache"
  work="$(mktemp -d "$cache/rootfs.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
fi
echo "$tarball"
