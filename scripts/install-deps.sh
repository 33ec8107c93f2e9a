#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages that gossipod's tests and demo need, and only those
# that are missing: a machine that has them all makes no apt call at all.
# Used by .ci/run and scripts/demo.sh; safe to run by hand (as root, or via sudo).
set -euo pipefail

log() { printf 'install-deps: %s\n' "$*"; }

# Needed by the tests, the demo and the agent itself.
required=(
  iproute2                    # ip: network namespaces, bridge, veths
  util-linux                  # nsenter, setsid
  busybox-static              # a static busybox for test container images
  iptables                    # pod networking (CNI portmap/bridge), demo forwarding rule
  nftables                    # nft: tests and users inspect the service proxy's table (the agent itself uses netlink)
  containernetworking-plugins # CNI plugins in /usr/lib/cni
  gcc libc6-dev               # cgo (libcontainer's nsenter constructor)
  libseccomp-dev pkg-config   # libcontainer's seccomp support (the seccomp build tag), linked statically
  git make
  ca-certificates             # Go module downloads over HTTPS
  ruby                        # `ruby -c Vagrantfile` in make check-deploy
)
# Installed when the distribution has them; the checks that use them say so when absent.
optional=(shellcheck)
# systemd-analyze verifies deploy/gossipod.service. Installed on its own, last, and a failure
# is only reported: in a container without systemd as PID 1 it is the one package here that
# might not install cleanly.
besteffort=(systemd)

installed() { [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == ii* ]]; }
in_list() { local x=$1; shift; local y; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }
available() {
  local c; c=$(apt-cache policy "$1" 2>/dev/null)
  [[ $c == *"Candidate: "* && $c != *"Candidate: (none)"* ]]
}

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  log "not a Debian/Ubuntu system (no dpkg/apt): install by hand: ${required[*]} ${optional[*]}"
  exit 1
fi

missing=()
for p in "${required[@]}" "${optional[@]}" "${besteffort[@]}"; do
  installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "all packages present (${required[*]} ${optional[*]} ${besteffort[*]})"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    log "missing packages: ${missing[*]}; run as root: apt-get install ${missing[*]}"
    exit 1
  fi
  log "missing packages need root: using sudo"
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
apt=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q --no-install-recommends)

log "missing: ${missing[*]}"
log "apt-get update"
"${SUDO[@]}" apt-get update -q

now=() later=()
for p in "${missing[@]}"; do
  if in_list "$p" "${besteffort[@]}"; then
    later+=("$p")
  elif in_list "$p" "${optional[@]}" && ! available "$p"; then
    log "optional package $p is not available here: skipped"
  else
    now+=("$p")
  fi
done
if [ ${#now[@]} -gt 0 ]; then
  log "apt-get install ${now[*]}"
  "${apt[@]}" install "${now[@]}"
fi
for p in "${later[@]}"; do
  log "apt-get install $p (best effort)"
  if ! "${apt[@]}" install "$p"; then
    log "WARNING: $p did not install; the checks that need it will be skipped"
    "${SUDO[@]}" dpkg --configure -a || true
  fi
done
log "done"
