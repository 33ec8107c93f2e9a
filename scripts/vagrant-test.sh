#!/usr/bin/env bash
# make test-vagrant: brings up the Vagrantfile's cluster for real — 3 Debian 12 VMs under
# vagrant-libvirt with QEMU software emulation — checks it from the host and inside the
# VMs, halts one VM, destroys everything, and leaves nothing behind, also on failure.
#
#   1. installs what is missing (vagrant, vagrant-libvirt, libvirt, QEMU, dnsmasq,
#      debootstrap, iptables, jq; and the build's packages through install-deps.sh)
#   2. starts virtlogd and libvirtd by hand when no service manager runs them, and defines
#      the `default` storage pool when there is none; gives /dev/kvm group kvm access for
#      the run where it lacks it (libvirt's capability cache needs it; see below)
#   3. builds the offline box (scripts/vagrant-box.sh: once per machine), then
#      `make build testimage`
#   4. `vagrant up --provider=libvirt` with the overrides this machine needs (local box,
#      qemu driver, direct kernel boot, isolated networks on free private subnets)
#   5. checks: every agent sees all 3 members alive (from the host through each VM's API,
#      and with `vagrant ssh -c` inside every VM); one leader and 3 voters in `raft peers`,
#      the same leader everywhere; the test image is loaded on every VM; a pod applied
#      inside VM 2 runs (phase Running, its process on that VM) on the node the leader
#      chose; pod to pod by pod IP across VMs (skipped, with a message, while pods have no
#      IP); `vagrant halt` of VM 3 and the others see it leave within a bound
#   6. `vagrant destroy -f`, and on exit (trap) removes whatever is left: domains, the
#      networks, volumes and storage pool it created, libvirt's iptables chains it caused,
#      the daemons it started, the domains' QEMU logs, /dev/kvm's original mode
#
# It prints its timings (vagrant up -> leader with all members alive; apply -> Running
# inside the VMs) and ends with "vagrant-test: N passed, N failed, N skipped".
#
# Needs root (re-runs itself with sudo). Environment (all optional):
#   GOSSIPOD_TEST_MEMORY=1024        MiB per VM
#   GOSSIPOD_TEST_UP_TIMEOUT=1800    seconds for `vagrant up`
#   GOSSIPOD_TEST_TIMEOUT=600        seconds for the cluster to form, a pod to run, ...
#   GOSSIPOD_TEST_HALT_TIMEOUT=240   seconds for the others to notice the halted VM
#   GOSSIPOD_AGENT_ARGS="..."        extra agent flags inside the VMs (see the Vagrantfile)
#   GOSSIPOD_BOX_DIR, GOSSIPOD_BOX_NAME  see scripts/vagrant-box.sh
#   GOSSIPOD_TEST_KEEP=1             debugging only: leave the VMs and daemons running
#                                    (clean up later with `GOSSIPOD_TEST_CLEANUP=DIR`)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SELF="$ROOT/scripts/vagrant-test.sh"
cd "$ROOT"

VMS=3
MEMORY=${GOSSIPOD_TEST_MEMORY:-1024}
UP_TIMEOUT=${GOSSIPOD_TEST_UP_TIMEOUT:-1800}
TIMEOUT=${GOSSIPOD_TEST_TIMEOUT:-600}
HALT_TIMEOUT=${GOSSIPOD_TEST_HALT_TIMEOUT:-240}
KEEP=${GOSSIPOD_TEST_KEEP:-}
export GOSSIPOD_BOX_DIR=${GOSSIPOD_BOX_DIR:-/var/cache/gossipod/vagrant-box}
export GOSSIPOD_BOX_NAME=${GOSSIPOD_BOX_NAME:-gossipod/debian12}
export LIBVIRT_DEFAULT_URI=qemu:///system
BIN="$ROOT/bin/gossipod"

T0=$(date +%s)
stamp() { printf '%4ds' $(($(date +%s) - T0)); }
say() { printf '\n==> [%s] %s\n' "$(stamp)" "$*"; }
log() { printf 'vagrant-test: [%s] %s\n' "$(stamp)" "$*"; }
die() { printf 'vagrant-test: [%s] FATAL: %s\n' "$(stamp)" "$*" >&2; exit 1; }

for v in MEMORY UP_TIMEOUT TIMEOUT HALT_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done

if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "libvirt, VMs and networks need root: run as root"
  echo "vagrant-test: needs root (libvirt, networks): re-running with sudo" >&2
  exec sudo --preserve-env=PATH,GOSSIPOD_TEST_MEMORY,GOSSIPOD_TEST_UP_TIMEOUT,GOSSIPOD_TEST_TIMEOUT,GOSSIPOD_TEST_HALT_TIMEOUT,GOSSIPOD_AGENT_ARGS,GOSSIPOD_BOX_DIR,GOSSIPOD_BOX_NAME,GOSSIPOD_TEST_KEEP,CI \
    bash "$SELF" "$@"
fi

# --- results -------------------------------------------------------------------------
passed=0 failed=0 skipped=0
results=()
pass() { passed=$((passed + 1)); results+=("PASS  $*"); log "PASS: $*"; }
fail() { failed=$((failed + 1)); results+=("FAIL  $*"); log "FAIL: $*"; }
skip() { skipped=$((skipped + 1)); results+=("SKIP  $*"); log "SKIP: $*"; }
timings=()
timing() { timings+=("$(printf '%-48s %s' "$1" "$2")"); log "timing: $1: $2"; }

# --- state of this run, for the clean-up -----------------------------------------------
ID=$$
WORK=$(mktemp -d /tmp/gossipod-vagrant-test.XXXXXX)
export VAGRANT_DOTFILE_PATH="$WORK/vagrant"      # not the repository's .vagrant/
PREFIX="gpvt$ID-"                                 # libvirt domain names: PREFIX + VM name
NET_NAME="gpvt$ID-private"                        # the private network
MGMT_NAME="gpvt$ID-mgmt"                          # vagrant-libvirt's management network
MGMT_DEV="gpvt${ID}m"                             # its bridge (15 characters at most)
STATE="$WORK/state"                               # what existed before, what we started
mkdir -p "$STATE"

vm() { echo "gossipod-$1"; }
subnet="" mgmt=""   # chosen before `vagrant up`

# Every vagrant command of this run sees the same configuration (see the Vagrantfile).
vagrant_env() {
  env GOSSIPOD_VMS=$VMS GOSSIPOD_SUBNET="$subnet" GOSSIPOD_MEMORY="$MEMORY" GOSSIPOD_CPUS=1 \
    GOSSIPOD_BINARY="$BIN" GOSSIPOD_IMAGES="$ROOT/build/images/busybox.tar" GOSSIPOD_TOKEN_FILE="$WORK/token" \
    GOSSIPOD_STORAGE_POOL=default GOSSIPOD_LIBVIRT_PREFIX="$PREFIX" \
    GOSSIPOD_LIBVIRT_NETWORK="$NET_NAME" GOSSIPOD_LIBVIRT_FORWARD=none \
    GOSSIPOD_LIBVIRT_MGMT_NET="$mgmt.0/24" GOSSIPOD_LIBVIRT_MGMT_NAME="$MGMT_NAME" \
    GOSSIPOD_LIBVIRT_MGMT_DEVICE="$MGMT_DEV" GOSSIPOD_LIBVIRT_MGMT_MODE=none \
    GOSSIPOD_BOOT_TIMEOUT="$UP_TIMEOUT" VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_NO_COLOR=1 \
    "$@"
}

# --- clean-up (trap) -----------------------------------------------------------------
started_daemons=()    # "libvirtd PID" / "virtlogd PID" / "systemd UNIT"
own_libvirtd=false    # libvirtd is this run's: its networks and iptables chains are too
created_pool=false started_pool=false
kvm_mode=""           # /dev/kvm's "mode owner group" before this run changed it
cleanup_done=false

virsh_q() { timeout 60 virsh "$@" 2>/dev/null; }

# Chains of one iptables table, one name a line.
chains() { timeout 30 "$1" -w -t "$2" -S 2>/dev/null | awk '$1 == "-N" { print $2 }'; }

snapshot_before() {
  virsh_q list --all --name | sed '/^$/d' | sort >"$STATE/domains" || true
  virsh_q net-list --all --name | sed '/^$/d' | sort >"$STATE/nets-defined" || true
  virsh_q net-list --name | sed '/^$/d' | sort >"$STATE/nets-active" || true
  virsh_q vol-list default 2>/dev/null | awk 'NR > 2 && NF { print $1 }' | sort >"$STATE/volumes" || true
}

snapshot_chains() {
  local ipt t
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for t in filter nat mangle raw; do
      chains "$ipt" "$t" | sort >"$STATE/chains-$ipt-$t" || true
    done
  done
}

# Removes the LIBVIRT_* chains that did not exist before this run (libvirt creates them
# with its first network and never removes them), with the rules that jump to them. Only
# once this run's libvirtd has stopped: a running libvirtd keeps using them.
remove_new_chains() {
  local ipt t c rule
  $own_libvirtd || return 0
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for t in filter nat mangle raw; do
      [ -f "$STATE/chains-$ipt-$t" ] || continue
      while read -r c; do
        [[ $c == LIBVIRT_* ]] || continue
        grep -qxF "$c" "$STATE/chains-$ipt-$t" && continue
        while read -r rule; do
          local -a words
          read -ra words <<<"$rule"
          words[0]=-D
          "$ipt" -w -t "$t" "${words[@]}" 2>/dev/null || true
        done < <("$ipt" -w -t "$t" -S 2>/dev/null | grep -E -- "-j $c( |\$)")
        "$ipt" -w -t "$t" -F "$c" 2>/dev/null || true
      done < <(chains "$ipt" "$t")
      # Delete after flushing all of them: one may jump to another.
      while read -r c; do
        [[ $c == LIBVIRT_* ]] || continue
        grep -qxF "$c" "$STATE/chains-$ipt-$t" && continue
        "$ipt" -w -t "$t" -X "$c" 2>/dev/null || log "cleanup: could not delete $ipt -t $t chain $c"
      done < <(chains "$ipt" "$t")
    done
  done
}

stop_daemons() {
  local entry kind what pid i
  # Stop in reverse order of starting: libvirtd before virtlogd.
  for ((i = ${#started_daemons[@]} - 1; i >= 0; i--)); do
    entry=${started_daemons[$i]}
    kind=${entry%% *} what=${entry#* }
    if [ "$kind" = systemd ]; then
      log "cleanup: systemctl stop $what"
      systemctl stop "$what" || true
      continue
    fi
    pid=$what
    [ -d "/proc/$pid" ] || continue
    log "cleanup: stopping $kind (pid $pid), which this run started"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
    if [ -d "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
}

cleanup() {
  local rc=$?
  $cleanup_done && return
  cleanup_done=true
  set +e
  trap - INT TERM
  if [ -n "$KEEP" ]; then
    say "GOSSIPOD_TEST_KEEP is set: leaving the VMs, networks and daemons running"
    echo "VAGRANT_DOTFILE_PATH=$VAGRANT_DOTFILE_PATH; state in $STATE; clean up by hand"
    return
  fi
  say "clean-up"
  if [ -d "$VAGRANT_DOTFILE_PATH" ] && virsh_q version >/dev/null; then
    log "cleanup: vagrant destroy -f"
    vagrant_env timeout 600 vagrant destroy -f >"$WORK/destroy-cleanup.log" 2>&1 ||
      { log "cleanup: vagrant destroy failed:"; tail -n 20 "$WORK/destroy-cleanup.log"; }
  fi
  if virsh_q version >/dev/null; then
    local d n v
    # Domains of this run that vagrant did not remove.
    while read -r d; do
      [[ $d == "$PREFIX"* ]] || continue
      log "cleanup: removing domain $d"
      virsh_q destroy "$d" >/dev/null
      virsh_q undefine "$d" --remove-all-storage --nvram >/dev/null ||
        virsh_q undefine "$d" --remove-all-storage >/dev/null
    done < <(virsh_q list --all --name)
    # Networks: those this run defined go; those it (or libvirtd's autostart) started go
    # back to inactive.
    while read -r n; do
      [ -n "$n" ] || continue
      if ! grep -qxF "$n" "$STATE/nets-defined" 2>/dev/null; then
        log "cleanup: removing network $n"
        virsh_q net-destroy "$n" >/dev/null
        virsh_q net-undefine "$n" >/dev/null
      elif ! grep -qxF "$n" "$STATE/nets-active" 2>/dev/null &&
        virsh_q net-list --name | grep -qxF "$n"; then
        log "cleanup: stopping network $n"
        virsh_q net-destroy "$n" >/dev/null
      fi
    done < <(virsh_q net-list --all --name)
    # Volumes this run created (the VMs' disks, the box's image uploaded to the pool).
    if virsh_q pool-info default >/dev/null; then
      while read -r v; do
        [ -n "$v" ] || continue
        grep -qxF "$v" "$STATE/volumes" 2>/dev/null && continue
        log "cleanup: deleting volume $v"
        virsh_q vol-delete "$v" --pool default >/dev/null
      done < <(virsh_q vol-list default | awk 'NR > 2 && NF { print $1 }')
      if $created_pool; then
        log "cleanup: removing the storage pool default, which this run defined"
        virsh_q pool-destroy default >/dev/null
        virsh_q pool-undefine default >/dev/null
      elif $started_pool; then
        virsh_q pool-destroy default >/dev/null
      fi
    fi
  fi
  stop_daemons
  if [ -n "$kvm_mode" ]; then
    read -r m o g <<<"$kvm_mode"
    chown "$o:$g" /dev/kvm && chmod "$m" /dev/kvm && log "cleanup: /dev/kvm back to $m $o:$g"
  fi
  # dnsmasq instances of our networks, should libvirtd have died before stopping them.
  local pid
  for pid in $(pgrep -f "dnsmasq/gpvt$ID-" 2>/dev/null); do kill "$pid" 2>/dev/null; done
  rm -f /var/lib/libvirt/dnsmasq/gpvt"$ID"-* /var/lib/libvirt/dnsmasq/"$MGMT_DEV".* 2>/dev/null
  rm -f /var/log/libvirt/qemu/"$PREFIX"*.log 2>/dev/null   # the domains' QEMU logs
  remove_new_chains

  # What is left? Nothing of ours should be.
  local left=()
  if virsh_q version >/dev/null; then
    virsh_q list --all --name | grep -q "^$PREFIX" && left+=("domains")
    virsh_q net-list --all --name | grep -q "^gpvt$ID-" && left+=("networks")
  fi
  ip -o link show 2>/dev/null | grep -q "$MGMT_DEV" && left+=("bridge $MGMT_DEV")
  pgrep -f "dnsmasq/gpvt$ID-" >/dev/null && left+=("dnsmasq")
  local entry
  for entry in "${started_daemons[@]}"; do
    [[ $entry == systemd* ]] && continue
    [ -d "/proc/${entry#* }" ] && left+=("${entry%% *}")
  done
  rm -rf "$WORK"
  if [ ${#left[@]} -gt 0 ]; then
    log "cleanup: LEFT BEHIND: ${left[*]}"
    [ "$rc" -eq 0 ] && rc=1
  else
    log "cleanup: nothing left behind (the box stays in Vagrant's cache, built once per machine)"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# --- 1. packages -----------------------------------------------------------------------
say "packages"
installed() { [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == ii* ]]; }
bash "$ROOT/scripts/install-deps.sh"
pkgs=(vagrant vagrant-libvirt libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
  dnsmasq-base debootstrap iptables jq e2fsprogs debian-archive-keyring curl)
missing=()
for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
libvirtd_before=$(pgrep -x libvirtd || true)
virtlogd_before=$(pgrep -x virtlogd || true)
snapshot_chains   # before any libvirtd of this run creates its chains
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  t=$(date +%s)
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >"$WORK/apt.log" 2>&1 ||
    { tail -n 40 "$WORK/apt.log"; die "apt-get install failed"; }
  timing "install packages" "$(($(date +%s) - t)) s"
else
  log "all present: ${pkgs[*]}"
fi
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"

# --- 2. libvirt ------------------------------------------------------------------------
say "libvirt"
# The VMs never use KVM (driver qemu), but libvirt 9.0 checks that the user it runs QEMU as
# (libvirt-qemu, group kvm) could open /dev/kvm. Where no udev gave /dev/kvm its usual
# "0660 root:kvm" (it is 0600 root:root here), that check disagrees with libvirt's own
# probe, every cached QEMU capability is judged stale, and each domain definition
# re-probes QEMU many times over: about 35 s per definition, 4-5 minutes of `vagrant up`.
# Give /dev/kvm the usual group access for the run; the clean-up puts it back.
if [ -c /dev/kvm ] && getent group kvm >/dev/null && id libvirt-qemu >/dev/null 2>&1 &&
  ! runuser -u libvirt-qemu -- test -r /dev/kvm -a -w /dev/kvm 2>/dev/null; then
  kvm_mode=$(stat -c '%a %U %G' /dev/kvm)
  chgrp kvm /dev/kvm && chmod g+rw /dev/kvm
  log "/dev/kvm was $kvm_mode: group kvm may read and write it during the run (libvirt's capability cache needs that)"
fi
# A package's maintainer script may have started the daemons just now: then they are
# this run's to stop, too.
for d in virtlogd libvirtd; do
  before=$virtlogd_before
  [ "$d" = libvirtd ] && before=$libvirtd_before
  if [ -z "$before" ] && pid=$(pgrep -x "$d"); then
    if [ -d /run/systemd/system ]; then
      started_daemons+=("systemd $d")
    else
      started_daemons+=("$d $pid")
    fi
    [ "$d" = libvirtd ] && own_libvirtd=true
    log "$d was started by the package installation: this run will stop it"
  fi
done
if ! pgrep -x virtlogd >/dev/null; then
  if [ -d /run/systemd/system ]; then
    systemctl start virtlogd.socket virtlogd.service && started_daemons+=("systemd virtlogd")
  else
    virtlogd -d
    sleep 0.5
    pid=$(pgrep -x virtlogd) || die "virtlogd did not start"
    started_daemons+=("virtlogd $pid")
  fi
  log "started virtlogd"
fi
if ! pgrep -x libvirtd >/dev/null; then
  if [ -d /run/systemd/system ]; then
    systemctl start libvirtd && started_daemons+=("systemd libvirtd")
  else
    libvirtd -d
    sleep 1
    pid=$(pgrep -x libvirtd) || die "libvirtd did not start"
    started_daemons+=("libvirtd $pid")
  fi
  own_libvirtd=true
  log "started libvirtd"
fi
for i in $(seq 1 60); do
  virsh_q version >/dev/null && break
  [ "$i" -eq 60 ] && die "libvirtd does not answer (virsh version)"
  sleep 1
done
virsh version | sed 's/^/    /'

# Domains, networks and volumes before this run's. When this run started libvirtd, the
# networks it autostarted (Debian's `default`) are this run's to stop again.
snapshot_before
if $own_libvirtd; then : >"$STATE/nets-active"; fi

if ! virsh_q pool-info default >/dev/null; then
  log "defining the storage pool default (/var/lib/libvirt/images)"
  virsh pool-define-as default dir --target /var/lib/libvirt/images >/dev/null
  created_pool=true
  virsh pool-build default >/dev/null
fi
if ! virsh_q pool-info default | grep -q 'State: *running'; then
  virsh pool-start default >/dev/null
  $created_pool || started_pool=true
fi

# --- 3. box and binaries -----------------------------------------------------------------
say "box"
t=$(date +%s)
bash "$ROOT/scripts/vagrant-box.sh"
timing "make vagrant-box (0 when cached)" "$(($(date +%s) - t)) s"
while IFS= read -r line; do eval "export $line"; done < <(bash "$ROOT/scripts/vagrant-box.sh" --env)

say "make build testimage"
make -C "$ROOT" build testimage
[ -x "$BIN" ] || die "make build wrote no $BIN"
(umask 077 && "$BIN" token generate >"$WORK/token")   # this run's cluster token
[ -f "$ROOT/build/images/busybox.tar" ] || die "make testimage wrote no build/images/busybox.tar"

# --- 4. vagrant up ------------------------------------------------------------------------
say "vagrant up"
# Two free /24s (private network, management network), not used by any route or any
# libvirt network.
used=$( { ip -4 route show table all 2>/dev/null; ip -4 addr show 2>/dev/null
  for n in $(virsh_q net-list --all --name); do virsh_q net-dumpxml "$n"; done; } |
  grep -oE '192\.168\.[0-9]+\.' | sort -u)
for n in $(seq 200 2 252); do
  if ! grep -qxF "192.168.$n." <<<"$used" && ! grep -qxF "192.168.$((n + 1))." <<<"$used"; then
    subnet="192.168.$n" mgmt="192.168.$((n + 1))"
    break
  fi
done
[ -n "$subnet" ] || die "no free 192.168.x.0/24 pair between 200 and 253"
ips=()
for i in $(seq 1 $VMS); do ips[i]="$subnet.$((10 + i))"; done
log "private network $subnet.0/24 ($NET_NAME), management $mgmt.0/24 ($MGMT_NAME), isolated"


# Each line of vagrant's output with the seconds since `vagrant up` began.
stamped() {
  local start line
  start=$(date +%s)
  while IFS= read -r line; do
    # A progress bar redraws itself with carriage returns: keep what it ends with.
    line=${line##*$'\r'}
    line=${line//$'\e[K'/}
    printf '[%4ds] %s\n' $(($(date +%s) - start)) "$line"
  done
}
up_start=$(date +%s)
if ! vagrant_env timeout "$UP_TIMEOUT" vagrant up --provider=libvirt 2>&1 | stamped; then
  die "vagrant up failed (log above)"
fi
up_end=$(date +%s)
timing "vagrant up (boot + provision, 3 VMs in parallel)" "$((up_end - up_start)) s"

# --- 5. checks ------------------------------------------------------------------------------
# The host reaches every VM on the private network: the CLI talks to each agent's API.
# The host's admin kubeconfig, made from the cluster token as a user would.
KUBECONFIG_FILE="$WORK/kubeconfig"
"$BIN" kubeconfig --token-file "$WORK/token" \
  --server "https://${ips[1]}:7948" >"$KUBECONFIG_FILE" || die "gossipod kubeconfig failed"
cli() { local i=$1; shift; timeout 60 "$BIN" --kubeconfig "$KUBECONFIG_FILE" --addr "https://${ips[$i]}:7948" "$@"; }
in_vm() { local i=$1; shift; vagrant_env timeout 300 vagrant ssh "$(vm "$i")" --no-tty -c "$*" 2>/dev/null; }

# Diagnostics for a failure: the agents' journals.
diagnose() {
  local i
  for i in $(seq 1 $VMS); do
    echo "---- journal of gossipod on $(vm "$i") (last 60 lines)"
    in_vm "$i" "sudo journalctl -u gossipod --no-pager -n 60" || echo "(vagrant ssh failed)"
  done
}

# One agent's view: "ALIVE LEADER VOTERS" (alive members, leader's id, voter count).
view() {
  local i=$1 m p
  m=$(cli "$i" members -o json 2>/dev/null) || return 1
  p=$(cli "$i" raft peers -o json 2>/dev/null) || return 1
  printf '%s %s %s\n' \
    "$(jq '[.[] | select(.status == "alive")] | length' <<<"$m")" \
    "$(jq -r '[.[] | select(.leader == true) | .id] | if length == 1 then .[0] else "none" end' <<<"$p")" \
    "$(jq '[.[] | select(.suffrage == "voter")] | length' <<<"$p")"
}

say "checks: the cluster forms"
deadline=$(($(date +%s) + TIMEOUT))
formed=false
while [ "$(date +%s)" -lt "$deadline" ]; do
  ok=true leaders=()
  for i in $(seq 1 $VMS); do
    read -r alive leader voters < <(view "$i" || echo "0 none 0")
    leaders+=("$leader")
    if [ "$alive" != "$VMS" ] || [ "$leader" = none ] || [ "$voters" != 3 ]; then ok=false; fi
  done
  if $ok && [ "$(printf '%s\n' "${leaders[@]}" | sort -u | wc -l)" -eq 1 ]; then formed=true; break; fi
  sleep 2
done
formed_at=$(date +%s)
if ! $formed; then
  for i in $(seq 1 $VMS); do cli "$i" members || true; cli "$i" raft peers || true; done
  fail "cluster: $VMS members alive and one leader with 3 voters, seen by every agent, within $TIMEOUT s"
  diagnose
  die "the cluster did not form: nothing else to check"
fi
leader=${leaders[0]}
pass "cluster: every agent sees $VMS members alive, leader $leader and 3 voters"
timing "vagrant up -> leader with all members alive" "$((formed_at - up_start)) s (checked $((formed_at - up_end)) s after vagrant up returned)"
cli 1 members | sed 's/^/    /'
cli 1 raft peers | sed 's/^/    /'

say "checks: inside the VMs (vagrant ssh -c)"
inside_ok=true
for i in $(seq 1 $VMS); do
  out=$(in_vm "$i" "systemctl is-active gossipod >/dev/null && gossipod --addr https://${ips[$i]}:7948 members -o json") || out=""
  n=$(jq '[.[] | select(.status == "alive")] | length' <<<"$out" 2>/dev/null || echo 0)
  if [ "$n" != "$VMS" ]; then
    inside_ok=false
    log "$(vm "$i"): members inside the VM: ${out:-no answer}"
  fi
done
if $inside_ok; then
  pass "inside every VM: gossipod.service active, members lists $VMS alive"
else
  fail "inside every VM: gossipod.service active, members lists $VMS alive"
fi
# Under software emulation an election can happen at any moment (seen: a
# moment with no leader known between two checks): ask again until the
# answer shows one leader, within 30 s, and say how many asks it took.
peers_deadline=$(($(date +%s) + 30)) asks=0 peers_ok=false
while :; do
  asks=$((asks + 1))
  peers=$(in_vm 1 "gossipod --addr https://${ips[1]}:7948 raft peers -o json") || peers=""
  if [ "$(jq '[.[] | select(.leader == true)] | length' <<<"$peers" 2>/dev/null)" = 1 ] &&
    [ "$(jq '[.[] | select(.suffrage == "voter")] | length' <<<"$peers" 2>/dev/null)" = 3 ]; then
    peers_ok=true
    break
  fi
  [ "$(date +%s)" -lt "$peers_deadline" ] || break
  log "inside $(vm 1): raft peers without one leader and 3 voters yet (ask $asks): ${peers:-no answer}"
  sleep 2
done
if $peers_ok; then
  pass "inside $(vm 1): raft peers shows one leader and 3 voters (ask $asks)"
else
  fail "inside $(vm 1): raft peers shows one leader and 3 voters within 30 s (last answer: ${peers:-no answer})"
fi

images_ok=true
for i in $(seq 1 $VMS); do
  if ! cli "$i" image ls 2>/dev/null | grep -q 'localhost/busybox'; then
    images_ok=false
    log "$(vm "$i") has no localhost/busybox image: $(cli "$i" image ls 2>&1 | tr '\n' ' ')"
  fi
done
if $images_ok; then pass "test image localhost/busybox:latest loaded on every VM"; else fail "test image loaded on every VM"; fi

# Secure by default: an agent answers a request without credentials with 401 (-k: what is
# checked here is the refusal, not the certificate, which every cli call above verified).
code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 30 "https://${ips[2]}:7948/api/v1/pods" || true)
if [ "$code" = 401 ]; then
  pass "the API of $(vm 2) answers a request without credentials with 401 Unauthorized"
else
  fail "the API of $(vm 2) answered a request without credentials with '$code', want 401"
fi

say "checks: a pod applied through $(vm 2)"
# Small requests: the VMs have $MEMORY MiB each. The pod's hostname is its name.
web_pod='apiVersion: v1
kind: Pod
metadata:
  name: vt-web
  labels: {app: vagrant-test}
spec:
  containers:
  - name: web
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
    resources:
      requests: {cpu: 50m, memory: 32Mi}'
# Runs inside the VM: apply, then poll until Running; prints the time it took, measured
# with the guest's clock.
apply_script() {
  local i=$1 name=$2 manifest=$3
  cat <<EOF
set -e
export GOSSIPOD_ADDR=https://${ips[$i]}:7948
cat >/tmp/$name.yaml <<'MANIFEST'
$manifest
MANIFEST
t0=\$(date +%s%N)
gossipod apply -f /tmp/$name.yaml
phase=
for _ in \$(seq 1 $((TIMEOUT * 2))); do
  phase=\$(gossipod get pod $name -o json 2>/dev/null | sed -n 's/.*"phase": *"\([A-Za-z]*\)".*/\1/p' | head -n 1)
  case "\$phase" in Running|Failed|Succeeded) break ;; esac
  sleep 0.5
done
t1=\$(date +%s%N)
echo "RESULT phase=\$phase ms=\$(( (t1 - t0) / 1000000 ))"
EOF
}
out=$(in_vm 2 "$(apply_script 2 vt-web "$web_pod")") || true
printf '%s\n' "$out" | sed 's/^/    /'
phase=$(sed -n 's/^RESULT phase=\([A-Za-z]*\) .*/\1/p' <<<"$out")
ms=$(sed -n 's/^RESULT .* ms=\([0-9]*\).*/\1/p' <<<"$out")
pod=$(cli 1 get pod vt-web -o json 2>/dev/null || echo '{}')
node=$(jq -r '.spec.nodeName // ""' <<<"$pod")
host_ip=$(jq -r '.status.hostIP // ""' <<<"$pod")
web_ip=$(jq -r '.status.podIP // ""' <<<"$pod")
node_i=""
for i in $(seq 1 $VMS); do [ "$node" = "$(vm "$i")" ] && node_i=$i; done
if [ "$phase" = Running ] && [ -n "$node_i" ] && [ "$(jq -r '.status.phase' <<<"$pod")" = Running ]; then
  pass "pod vt-web applied inside $(vm 2) is Running on $node, the node the leader ($leader) chose"
  timing "apply -> Running, inside $(vm 2) (guest clock)" "$((ms / 1000)).$(printf '%03d' $((ms % 1000))) s"
  [ -z "$host_ip" ] || [ "$host_ip" = "${ips[$node_i]}" ] ||
    fail "pod vt-web: status.hostIP $host_ip is not $node's address ${ips[$node_i]}"
  # Its process runs on that VM, and only there.
  if in_vm "$node_i" "pgrep -f 'httpd -f -p 8080' >/dev/null"; then
    pass "pod vt-web's process (httpd) runs on $node"
  else
    fail "pod vt-web's process (httpd) runs on $node"
  fi
else
  fail "pod vt-web Running on a node the leader chose (phase '${phase:-none}', nodeName '${node:-none}')"
  cli 1 describe pod vt-web 2>&1 | sed 's/^/    /' || true
  diagnose
fi

say "checks: pod to pod across VMs, by pod IP"
if [ -z "$node_i" ]; then
  skip "pod to pod: the first pod is not running"
elif [ -z "$web_ip" ]; then
  skip "pod to pod: pods have no IP yet (status.podIP of vt-web is empty): pod networking is not in this build"
else
  other=$((node_i % VMS + 1))
  client_pod="apiVersion: v1
kind: Pod
metadata:
  name: vt-client
  labels: {app: vagrant-test}
spec:
  nodeSelector: {kubernetes.io/hostname: $(vm "$other")}
  containers:
  - name: client
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: [\"sleep\", \"86400\"]
    resources:
      requests: {cpu: 50m, memory: 16Mi}"
  out=$(in_vm 2 "$(apply_script 2 vt-client "$client_pod")") || true
  printf '%s\n' "$out" | sed 's/^/    /'
  cpod=$(cli 1 get pod vt-client -o json 2>/dev/null || echo '{}')
  if [ "$(jq -r '.status.phase' <<<"$cpod")" != Running ]; then
    fail "pod to pod: vt-client on $(vm "$other") did not reach Running"
  else
    client_ip=$(jq -r '.status.podIP // ""' <<<"$cpod")
    log "vt-web $web_ip on $node; vt-client ${client_ip:-no IP} on $(vm "$other")"
    got="" ok=false
    for _ in $(seq 1 20); do
      # (Debian's busybox 1.35 wget crashes with -T: the CLI's own timeout bounds it.)
      got=$(cli 1 exec vt-client -- wget -q -O - "http://$web_ip:8080/" 2>&1) && [[ $got == *vt-web* ]] && { ok=true; break; }
      sleep 3
    done
    if $ok; then
      pass "pod to pod: vt-client on $(vm "$other") fetched http://$web_ip:8080/ from vt-web on $node"
    else
      fail "pod to pod: vt-client on $(vm "$other") could not fetch http://$web_ip:8080/ from vt-web on $node: $got"
    fi
  fi
fi

say "checks: vagrant halt $(vm 3)"
# Halted in the background, watched meanwhile: the agent leaves when systemd stops it,
# well before the emulated guest has finished shutting down.
status_of() {
  cli "$1" members -o json 2>/dev/null | jq -r --arg n "$2" '.[] | select(.name == $n) | .status' 2>/dev/null || true
}
halt_start=$(date +%s)
vagrant_env timeout 600 vagrant halt "$(vm 3)" >"$WORK/halt.log" 2>&1 &
halt_pid=$!
deadline=$((halt_start + HALT_TIMEOUT))
noticed="" status="" s2=""
while [ "$(date +%s)" -lt "$deadline" ]; do
  status=$(status_of 1 "$(vm 3)")
  s2=$(status_of 2 "$(vm 3)")
  if [[ $status == @(left|dead) ]] && [[ $s2 == @(left|dead) ]]; then noticed=$(date +%s); break; fi
  sleep 1
done
halt_rc=0
wait "$halt_pid" || halt_rc=$?
halt_end=$(date +%s)
sed 's/^/    /' "$WORK/halt.log"
if [ "$halt_rc" -eq 0 ]; then
  timing "vagrant halt $(vm 3)" "$((halt_end - halt_start)) s"
else
  fail "vagrant halt $(vm 3) (exit $halt_rc)"
fi
if [ -n "$noticed" ]; then
  pass "after vagrant halt $(vm 3), $(vm 1) and $(vm 2) see it $status and $s2 ($((noticed - halt_start)) s after the halt began)"
  timing "halt begins -> the others see it $status" "$((noticed - halt_start)) s"
else
  fail "after vagrant halt $(vm 3), the others see it left or dead within $HALT_TIMEOUT s (last: '${status:-none}', '${s2:-none}')"
fi
# The two left keep a leader (the halted agent handed leadership over if it had it).
deadline=$(($(date +%s) + 120))
lead=none
while [ "$(date +%s)" -lt "$deadline" ]; do
  read -r _ lead _ < <(view 1 || echo "0 none 0")
  [ "$lead" != none ] && [ "$lead" != "$(vm 3)" ] && break
  sleep 2
done
if [ "$lead" != none ] && [ "$lead" != "$(vm 3)" ]; then
  pass "the remaining agents have a leader ($lead)"
else
  fail "the remaining agents have a leader (got '$lead')"
fi
cli 1 members | sed 's/^/    /' || true

say "vagrant destroy -f"
t=$(date +%s)
if vagrant_env timeout 600 vagrant destroy -f 2>&1 | sed 's/^/    /'; then
  timing "vagrant destroy -f" "$(($(date +%s) - t)) s"
else
  fail "vagrant destroy -f"
fi

say "results"
printf '  %s\n' "${results[@]}"
echo
echo "timings (2 host cores, QEMU software emulation, 1 vCPU and $MEMORY MiB per VM):"
printf '  %s\n' "${timings[@]}"
echo
echo "vagrant-test: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
