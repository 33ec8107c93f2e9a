#!/usr/bin/env bash
# A 3-host gossipod cluster on this machine (make demo / make demo-stop).
#
#   scripts/demo.sh [start]   install what is missing, build, start 3 agents, show the cluster
#   scripts/demo.sh stop      stop the agents, remove namespaces, links, rules and data
#
# Each "host" is a Linux network namespace with its own address on a bridge in the root
# namespace; the bridge holds .1, so your shell reaches every host directly. The agents run
# in the namespaces through `nsenter --net` (not `ip netns exec`, which remounts /sys and
# would hide the cgroup hierarchy from the agent).
#
# Environment: GOSSIPOD_DEMO_NET (first three octets of the /24, default 10.213.255),
# GOSSIPOD_DEMO_TIMEOUT (seconds to wait for a leader, default 60).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/bin/gossipod"
NET=${GOSSIPOD_DEMO_NET:-10.213.255}
TIMEOUT=${GOSSIPOD_DEMO_TIMEOUT:-60}
HOSTS=3
BRIDGE=gpdemo-br
DATA=/var/lib/gossipod-demo
TOKEN_FILE=$DATA/token
# The demo's admin kubeconfig, owned by whoever ran make demo; every CLI call below uses it.
export KUBECONFIG=$ROOT/build/demo.kubeconfig
RULE=(FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment gossipod-demo -j ACCEPT)

netns() { echo "gossipod-demo-$1"; }  # network namespace of host N
veth() { echo "gpdemo-$1"; }          # host N's veth in the root namespace (peer: eth0)
addr() { echo "$NET.$((10 + $1))"; }  # host N's address
api() { echo "https://$(addr 1):7948"; }

if [ -t 1 ]; then
  say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
else
  say() { printf '==> %s\n' "$*"; }
fi
note() { printf '    %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

[[ $NET =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "GOSSIPOD_DEMO_NET must be three octets like 10.213.255, got '$NET'"

need_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  command -v sudo >/dev/null || die "the demo creates network namespaces, a bridge and veths: run it as root"
  echo "demo: network namespaces, a bridge and veths need root: re-running with sudo" >&2
  # Keep the caller's Go toolchain: sudo's secure_path usually drops it.
  exec sudo env GOSSIPOD_GO="$(command -v go || true)" GOSSIPOD_DEMO_NET="$NET" \
    GOSSIPOD_DEMO_TIMEOUT="$TIMEOUT" "$0" "$@"
}

# --- stop ----------------------------------------------------------------------------

# Is PID one of the demo's agents? (A pid file can outlive its process and the pid be
# reused; other gossipod agents, the e2e tests' say, are not ours.)
is_agent() {
  local cmd
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
  [[ $cmd == *"gossipod agent --name demo-"* ]]
}

stop_agents() {
  local pids=() pid f i
  for f in "$DATA"/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if is_agent "$pid"; then pids+=("$pid"); fi
  done
  # Anything else still running inside the demo's namespaces is the demo's too.
  for i in $(seq 1 "$HOSTS"); do
    [ -e "/run/netns/$(netns "$i")" ] || continue
    for pid in $(ip netns pids "$(netns "$i")" 2>/dev/null); do
      [[ " ${pids[*]} " == *" $pid "* ]] || pids+=("$pid")
    done
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  note "stopping ${#pids[@]} process(es): ${pids[*]}"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 100); do  # up to 10 s for a clean shutdown (leadership hand-over)
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && return 0
    sleep 0.1
  done
  note "still running after 10 s: SIGKILL"
  kill -KILL "${pids[@]}" 2>/dev/null || true
  sleep 0.2
}

# Deletes every Deployment and pod through the API while the agents still run, so each
# agent tears its pods down properly (processes, mounts, cgroups, pod network).
delete_workloads() {
  "$BIN" --addr "$(api)" get nodes >/dev/null 2>&1 || return 0
  local out
  # Deployments first, or their controller would replace the pods deleted below.
  "$BIN" --addr "$(api)" delete deployments --all --wait=false >/dev/null 2>&1 || true
  "$BIN" --addr "$(api)" delete pods --all --now --wait=false >/dev/null 2>&1 || true
  local start=$SECONDS
  while [ $((SECONDS - start)) -lt 60 ]; do
    out=$("$BIN" --addr "$(api)" get pods -A -o name 2>/dev/null) || return 0
    [ -z "$out" ] && { note "all pods deleted"; return 0; }
    sleep 1
  done
  note "pods still present after 60 s; cleaning up by hand"
}

# Whatever pods are left after the agents stopped (an agent that crashed, say): kill
# their processes and remove their cgroups. Mounts and data go with $DATA below; the pod
# network lives inside the hosts' namespaces, which go too.
stop_pods() {
  local dir uid cg
  for dir in "$DATA"/demo-*/runtime/pods/*/; do
    [ -d "$dir" ] || continue
    uid=$(basename "$dir")
    for cg in /sys/fs/cgroup/*/gossipod/pod"$uid" /sys/fs/cgroup/gossipod/pod"$uid"; do
      [ -d "$cg" ] || continue
      find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do
        kill -KILL "$pid" 2>/dev/null || true
      done
    done
    sleep 0.2
    for cg in /sys/fs/cgroup/*/gossipod/pod"$uid" /sys/fs/cgroup/gossipod/pod"$uid"; do
      [ -d "$cg" ] || continue
      find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    note "cleaned up pod $uid"
  done
}

# Is anything of a demo left on this machine?
demo_exists() {
  local i
  [ -d "$DATA" ] || ip link show "$BRIDGE" >/dev/null 2>&1 && return 0
  for i in $(seq 1 "$HOSTS"); do
    [ -e "/run/netns/$(netns "$i")" ] && return 0
  done
  return 1
}

stop() {
  say "Stopping the gossipod demo"
  delete_workloads
  stop_agents
  stop_pods
  local i
  for i in $(seq 1 "$HOSTS"); do
    # Deleting one end of a veth pair deletes both.
    if ip link del "$(veth "$i")" 2>/dev/null; then note "removed veth $(veth "$i")"; fi
    if ip netns del "$(netns "$i")" 2>/dev/null; then note "removed netns $(netns "$i")"; fi
  done
  if ip link del "$BRIDGE" 2>/dev/null; then note "removed bridge $BRIDGE"; fi
  if command -v iptables >/dev/null; then
    while iptables -D "${RULE[@]}" 2>/dev/null; do note "removed iptables rule (${RULE[*]})"; done
  fi
  if [ -d "$DATA" ]; then
    # Never follow a mount (a pod's rootfs, say) out of the data dir.
    awk -v d="$DATA/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
      while read -r m; do
        if umount -l "$m"; then note "unmounted $m"; fi
      done
    rm -rf --one-file-system "$DATA"
    note "removed $DATA"
  fi
  if [ -f "$KUBECONFIG" ]; then rm -f "$KUBECONFIG"; note "removed $KUBECONFIG"; fi
  say "Demo stopped"
}

# --- start ---------------------------------------------------------------------------

# Runs a command as the user who ran sudo, so bin/, build/, the Go caches and .git stay
# theirs; as root when there is no such user.
as_caller() {
  if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    sudo -u "$SUDO_USER" -H env PATH="$PATH" "$@"
  else
    "$@"
  fi
}

build() {
  local godir=""
  [ -n "${GOSSIPOD_GO:-}" ] && godir=$(dirname "$GOSSIPOD_GO")
  export PATH="$PATH:/usr/local/go/bin${godir:+:$godir}"
  command -v go >/dev/null || die "Go is not installed: put Go (see go.mod for the version) in /usr/local/go or on PATH"
  say "Building bin/gossipod"
  as_caller make -C "$ROOT" --no-print-directory build
}

check_subnet() {
  local used
  used=$(ip -4 -o addr show | awk -v net="$NET." 'index($4, net) == 1 {print $2 " " $4}')
  [ -z "$used" ] || die "$NET.0/24 is already used on this machine ($used): pick another with GOSSIPOD_DEMO_NET=a.b.c"
  used=$(ip -4 route show | awk -v net="$NET." 'index($1, net) == 1')
  [ -z "$used" ] || die "$NET.0/24 is already routed on this machine ($used): pick another with GOSSIPOD_DEMO_NET=a.b.c"
}

setup_network() {
  say "Creating $HOSTS hosts (network namespaces) on bridge $BRIDGE, $NET.0/24"
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # Requests to the demo's addresses must never leave the machine, also after
  # demo-stop removed the bridge: the bridge's own route wins while it exists.
  ip route replace unreachable "$NET.0/24" metric 4000
  local i ns
  for i in $(seq 1 "$HOSTS"); do
    ns=$(netns "$i")
    ip netns add "$ns"
    ip link add "$(veth "$i")" type veth peer name eth0 netns "$ns"
    ip link set "$(veth "$i")" master "$BRIDGE" up
    ip -n "$ns" addr add "$(addr "$i")/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$NET.1"
    note "host $i: netns $ns, eth0 $(addr "$i")"
  done
  # Bridged traffic passes iptables' FORWARD chain when br_netfilter is loaded, and a
  # FORWARD policy of DROP (Docker sets one) would cut the hosts off from each other.
  if command -v iptables >/dev/null; then
    iptables -I "${RULE[@]}" 2>/dev/null || note "warning: could not add iptables rule (${RULE[*]})"
  fi
}

start_agents() {
  say "Starting $HOSTS agents with one cluster token ($TOKEN_FILE)"
  mkdir -p "$DATA"
  (umask 077 && "$BIN" token generate >"$TOKEN_FILE")
  local i pid
  for i in $(seq 1 "$HOSTS"); do
    mkdir -p "$DATA/demo-$i"
    setsid nsenter --net="/run/netns/$(netns "$i")" -- \
      "$BIN" agent --name "demo-$i" --bind "$(addr "$i")" --data-dir "$DATA/demo-$i" \
      --bootstrap-expect "$HOSTS" --join "$(addr 1)" --token-file "$TOKEN_FILE" \
      </dev/null >>"$DATA/demo-$i.log" 2>&1 &
    pid=$!
    echo "$pid" >"$DATA/demo-$i.pid"
    note "demo-$i: pid $pid, $(addr "$i"), log $DATA/demo-$i.log"
  done
}

show_logs() {
  local i
  for i in $(seq 1 "$HOSTS"); do
    echo "--- last lines of $DATA/demo-$i.log"
    tail -n 15 "$DATA/demo-$i.log" 2>/dev/null || true
  done
}

# An admin kubeconfig for the caller: the cluster's CA and a client certificate issued from
# the token, as `gossipod kubeconfig` makes it on any agent's machine.
write_kubeconfig() {
  say "Writing an admin kubeconfig: $KUBECONFIG"
  as_caller mkdir -p "$(dirname "$KUBECONFIG")"
  "$BIN" kubeconfig --token-file "$TOKEN_FILE" --server "$(api)" | as_caller tee "$KUBECONFIG" >/dev/null
  as_caller chmod 600 "$KUBECONFIG"
}

wait_for_leader() {
  say "Waiting up to ${TIMEOUT}s for a Raft leader"
  local start=$SECONDS out i
  while [ $((SECONDS - start)) -lt "$TIMEOUT" ]; do
    for i in $(seq 1 "$HOSTS"); do
      if ! is_agent "$(cat "$DATA/demo-$i.pid")"; then
        show_logs
        die "agent demo-$i exited (log above); clean up with: make demo-stop"
      fi
    done
    if out=$("$BIN" --addr "$(api)" raft peers -o json 2>/dev/null) &&
      grep -Eq '"leader"[[:space:]]*:[[:space:]]*true' <<<"$out"; then
      note "leader elected after $((SECONDS - start))s"
      return 0
    fi
    sleep 1
  done
  show_logs
  die "no leader after ${TIMEOUT}s (logs above); the agents are still running: make demo-stop"
}

show_cluster() {
  local c
  for c in "members" "raft peers" "get nodes"; do
    say "gossipod $c"
    # shellcheck disable=SC2086 # $c is two words for "raft peers"
    "$BIN" --addr "$(api)" $c
  done
}

# Builds the test image (busybox from Debian's busybox-static, in Go), loads it into every
# host, applies the seed's example pod and shows it running.
demo_workload() {
  local image="$ROOT/build/images/busybox.tar" i start
  say "Building the test image localhost/busybox:latest"
  as_caller make -C "$ROOT" --no-print-directory testimage
  [ -f "$image" ] || die "$image was not built"
  for i in $(seq 1 "$HOSTS"); do
    "$BIN" --addr "https://$(addr "$i"):7948" image load "$image" | sed "s/^/  demo-$i: /"
  done
  say "gossipod apply -f examples/pod.yaml   (three containers, 1Gi each: placed whole on one node)"
  "$BIN" --addr "$(api)" apply -f "$ROOT/examples/pod.yaml"
  start=$SECONDS
  while [ $((SECONDS - start)) -lt "$TIMEOUT" ]; do
    if "$BIN" --addr "$(api)" get pods seed-pod -o json 2>/dev/null | grep -q '"phase": "Running"'; then
      break
    fi
    sleep 1
  done
  say "gossipod get pods -o wide"
  "$BIN" --addr "$(api)" get pods -o wide
  say "gossipod logs seed-pod -c a --tail 3"
  sleep 2
  "$BIN" --addr "$(api)" logs seed-pod -c a --tail 3 || true
}

usage_hint() {
  cat <<EOF

The demo cluster is running: 3 agents, each in its own network namespace.
  hosts     demo-1 $(addr 1), demo-2 $(addr 2), demo-3 $(addr 3) (API port 7948 on each)
  logs      $DATA/demo-N.log
  shell     nsenter --net=/run/netns/$(netns 1) bash   (a shell on host 1)

Use the CLI with the demo's admin kubeconfig; --addr picks another agent:
  export KUBECONFIG=$KUBECONFIG
  bin/gossipod members
  bin/gossipod raft peers
  bin/gossipod get nodes -o wide
  bin/gossipod get pods -o wide
  bin/gossipod apply -f examples/deployment.yaml

Stop it and remove everything it created:
  make demo-stop
EOF
}

start() {
  need_root "$@"
  bash "$ROOT/scripts/install-deps.sh"
  build
  [ -x "$BIN" ] || die "$BIN was not built"
  if demo_exists; then stop; fi  # a previous demo
  check_subnet
  setup_network
  start_agents
  write_kubeconfig
  wait_for_leader
  show_cluster
  demo_workload
  usage_hint
}

case "${1:-start}" in
  start) start "$@" ;;
  stop) need_root "$@"; stop ;;
  -h|--help|help) sed -n '2,14p' "$0" ;;
  *) die "unknown command '$1' (use: start, stop)" ;;
esac
