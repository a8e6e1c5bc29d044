#!/usr/bin/env bash
# Installs the Debian packages that the tests (and, with --bench, the benchmarks) need.
# Idempotent: packages already present are not fetched again. Leaves no system service running.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/install-system-deps.sh [--bench] [--check] [--help]

Installs with apt-get, as root, the system packages the tests need:
  haproxy      the load balancer the integration tests put in front of the agent
  tomcat10     the application server the agent watches (with a Java runtime)
  tomcat10-admin  its manager application (busy threads and sessions for the drain)
  socat, curl  used by the scripts and tests to talk to sockets and URLs
  chromium     the browser the status page's test drives (through playwright-core)
  prometheus   for promtool, which checks the alert rules and the dashboard's queries
  binutils, lintian  build (strip) and check the single executable and the Debian package
  docker.io, debootstrap     build and run the Docker image (a test starts its own daemon)
  shellcheck   npm run lint checks every shell script with it
  ansible, openssh-server, iproute2
               the fleet test: Debian's ansible runs the project's role and playbook over
               ssh to sshd in network namespaces (ip netns)
  systemd-container  systemd-nspawn boots the Debian package's test host (systemd as PID 1,
               from an image debootstrap makes: packaging/nspawn/host-image.sh)

Options:
  --bench   also install what `npm run bench` needs (wrk)
  --check   install nothing: list what is missing and exit 1 if anything is
  --help    this text

Debian's packages start their services on install when systemd runs (and haproxy's init
script without it, unless a policy-rc.d forbids it); this script stops and disables haproxy,
tomcat10, prometheus and docker again, also on a machine where everything is already installed,
so that only the tests start them. --check reports such a service as a problem. The ssh service
that openssh-server starts under systemd is left alone (the machine may be reached through it).
USAGE
}

want_bench=0
check_only=0
for arg in "$@"; do
  case "$arg" in
    --bench) want_bench=1 ;;
    --check) check_only=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install-system-deps: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

packages=(haproxy tomcat10 tomcat10-admin socat curl chromium prometheus binutils lintian docker.io debootstrap shellcheck ansible openssh-server iproute2 systemd-container)
services=(haproxy tomcat10 prometheus docker docker.socket)
if [ "$want_bench" = 1 ]; then
  packages+=(wrk)
fi

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$pkg")
  fi
done

# The packages' services: with systemd, the units that run or would start at boot; without it,
# haproxy's init script (tomcat10 ships only a systemd unit). Test processes started by hand
# (haproxy -db, catalina.sh run) have no pid file and are not services: they are left alone.
active_services() {
  local svc
  if [ -d /run/systemd/system ]; then
    for svc in "${services[@]}"; do
      if systemctl is-active --quiet "$svc" 2>/dev/null || systemctl is-enabled --quiet "$svc" 2>/dev/null; then
        echo "$svc"
      fi
    done
  elif [ -x /etc/init.d/haproxy ] && /etc/init.d/haproxy status >/dev/null 2>&1; then
    echo haproxy
  fi
}

stop_services() {
  local svc
  for svc in $(active_services); do
    echo "install-system-deps: stopping and disabling the $svc service (the tests start their own)"
    if [ -d /run/systemd/system ]; then
      systemctl disable --now "$svc" >/dev/null 2>&1 || true
    else
      /etc/init.d/"$svc" stop >/dev/null 2>&1 || true
    fi
  done
  local left
  left="$(active_services | tr '\n' ' ')"
  if [ -n "$left" ]; then
    echo "install-system-deps: still running or enabled: $left" >&2
    return 1
  fi
}

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-system-deps: all present (${packages[*]})"
  running="$(active_services | tr '\n' ' ')"
  if [ -n "$running" ]; then
    if [ "$check_only" = 1 ] || [ "$(id -u)" -ne 0 ]; then
      echo "install-system-deps: services running or enabled: $running(they take ports the tests may use; run: sudo scripts/install-system-deps.sh)" >&2
      exit 1
    fi
    stop_services
  fi
  exit 0
fi
if [ "$check_only" = 1 ]; then
  echo "install-system-deps: missing: ${missing[*]} (run: sudo scripts/install-system-deps.sh)" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: missing ${missing[*]}; run this script as root (sudo $0 $*)" >&2
  exit 1
fi
command -v apt-get >/dev/null || { echo "install-system-deps: apt-get not found: this script needs Debian or Ubuntu" >&2; exit 1; }

# Without systemd, Debian's maintainer scripts start services through invoke-rc.d;
# a policy-rc.d that answers 101 forbids that for the duration of the install.
policy=/usr/sbin/policy-rc.d
created_policy=0
cleanup() { if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 0755 "$policy"
  created_policy=1
fi

echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The package lists may be missing on a fresh machine, or stale: refresh them once.
if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

stop_services
echo "install-system-deps: done"
