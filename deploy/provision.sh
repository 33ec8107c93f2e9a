#!/usr/bin/env bash
# Installs the gossipod agent as a systemd service on one Debian/Ubuntu machine.
# The Vagrantfile runs it in every VM; it works the same by hand on your own machines:
#
#   bin/gossipod token generate > token        # once per cluster; the same file on every machine
#   sudo deploy/provision.sh --name node-1 --bind 10.0.0.11 --join 10.0.0.11 \
#        --bootstrap-expect 3 --token-file token --binary bin/gossipod --unit deploy/gossipod.service
#
# It installs the runtime packages that are missing (iproute2, iptables, CNI plugins,
# ca-certificates), copies the binary to /usr/local/bin/gossipod, writes
# /etc/default/gossipod from the options, installs the cluster token as /etc/gossipod/token
# (root only), installs deploy/gossipod.service, (re)starts it, writes an admin kubeconfig
# (/etc/gossipod/admin.kubeconfig, root's ~/.kube/config, and --kubeconfig-for users'),
# waits for the agent's API and loads the image archives given with --image (such as the
# test image build/images/busybox.tar from `make testimage`). Running it again updates
# the binary and the configuration and restarts the agent; pods keep running
# (KillMode=process).
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: provision.sh [options]
  --name NAME            node name (default: the hostname)
  --bind ADDR            address for the agent's gossip, Raft and API listeners
  --join ADDR[:PORT]     seed agent to join (repeatable)
  --bootstrap-expect N   number of agents that bootstrap the Raft cluster
  --data-dir DIR         agent state (default: /var/lib/gossipod)
  --token-file FILE      the cluster token (`gossipod token generate`), the same for every
                         agent; installed as /etc/gossipod/token. Optional when that file
                         already exists (a re-run)
  --kubeconfig-for USER  also write an admin kubeconfig to USER's ~/.kube/config
                         (repeatable)
  --args "FLAGS"         extra agent flags, stored as GOSSIPOD_ARGS
  --binary PATH          gossipod binary to install (default: /tmp/gossipod)
  --unit PATH            unit file (default: gossipod.service beside this script,
                         else /tmp/gossipod.service)
  --image FILE           image archive to load into the agent once it answers
                         (`gossipod image load`; repeatable)
  --api-wait SECONDS     how long to wait for the agent's API (default: 180)
  --skip-packages        do not install packages
USAGE
}

log() { printf 'provision: %s\n' "$*"; }
die() { printf 'provision: error: %s\n' "$*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
name="" bind="" expect="" data_dir="/var/lib/gossipod" args="" skip_packages=false
api_wait=180
joins=() images=() kube_users=()
token_file=""
binary=/tmp/gossipod
unit="$here/gossipod.service"
[ -f "$unit" ] || unit=/tmp/gossipod.service

while [ $# -gt 0 ]; do
  case "$1" in
    --name) name=${2:?--name needs a value}; shift 2 ;;
    --bind) bind=${2:?--bind needs a value}; shift 2 ;;
    --join) joins+=("${2:?--join needs a value}"); shift 2 ;;
    --bootstrap-expect) expect=${2:?--bootstrap-expect needs a value}; shift 2 ;;
    --data-dir) data_dir=${2:?--data-dir needs a value}; shift 2 ;;
    --token-file) token_file=${2:?--token-file needs a value}; shift 2 ;;
    --kubeconfig-for) kube_users+=("${2:?--kubeconfig-for needs a value}"); shift 2 ;;
    --args) args=${2?--args needs a value}; shift 2 ;;
    --binary) binary=${2:?--binary needs a value}; shift 2 ;;
    --unit) unit=${2:?--unit needs a value}; shift 2 ;;
    --image) images+=("${2:?--image needs a value}"); shift 2 ;;
    --api-wait) api_wait=${2:?--api-wait needs a value}; shift 2 ;;
    --skip-packages) skip_packages=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

[ "$(id -u)" -eq 0 ] || die "must run as root (sudo $0 ...)"
[ -f "$binary" ] || die "no gossipod binary at $binary (build it with 'make build' and pass --binary)"
[ -f "$unit" ] || die "no unit file at $unit (pass --unit deploy/gossipod.service)"
if [ -n "$expect" ] && ! [[ $expect =~ ^[0-9]+$ ]]; then
  die "--bootstrap-expect must be a number, got '$expect'"
fi
[[ $api_wait =~ ^[0-9]+$ ]] || die "--api-wait must be a number of seconds, got '$api_wait'"
for f in "${images[@]}"; do
  [ -f "$f" ] || die "no image archive at $f"
done
if [ -n "$token_file" ]; then
  [ -s "$token_file" ] || die "no cluster token in $token_file"
elif [ ! -s /etc/gossipod/token ]; then
  die "no cluster token: make one with 'gossipod token generate > token' and pass --token-file token (the same file on every machine)"
fi
for u in "${kube_users[@]}"; do
  id "$u" >/dev/null 2>&1 || die "--kubeconfig-for $u: no such user"
done

# 1. Runtime packages. A machine without a reachable mirror still gets the agent, with a
#    warning: the cluster core needs none of them, pods will.
packages=(iproute2 iptables containernetworking-plugins ca-certificates)
if ! $skip_packages; then
  missing=()
  for p in "${packages[@]}"; do
    [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) == ii* ]] || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }; then
      log "WARNING: could not install ${missing[*]}; the agent runs, pods will need them"
    fi
  else
    log "packages present: ${packages[*]}"
  fi
fi

# 2. The binary, replaced atomically so that a running agent is not disturbed mid-copy.
log "installing $binary as /usr/local/bin/gossipod"
install -m 0755 "$binary" /usr/local/bin/.gossipod.new
mv -f /usr/local/bin/.gossipod.new /usr/local/bin/gossipod
/usr/local/bin/gossipod --version 2>/dev/null || true

# 3. Configuration: the agent reads every flag from GOSSIPOD_<FLAG>; the token is a file
#    only root reads, never a command-line argument.
install -d -m 0700 /etc/gossipod
if [ -n "$token_file" ]; then
  log "installing the cluster token as /etc/gossipod/token"
  install -m 0600 "$token_file" /etc/gossipod/token
  case "$token_file" in /tmp/*) rm -f "$token_file" ;; esac
fi
log "writing /etc/default/gossipod"
{
  echo "# Written by deploy/provision.sh. The agent reads every flag from GOSSIPOD_<FLAG>;"
  echo "# GOSSIPOD_ARGS is appended to its command line. Restart: systemctl restart gossipod"
  [ -n "$name" ] && echo "GOSSIPOD_NAME=$name"
  [ -n "$bind" ] && echo "GOSSIPOD_BIND=$bind"
  [ ${#joins[@]} -gt 0 ] && echo "GOSSIPOD_JOIN=$(IFS=,; echo "${joins[*]}")"
  [ -n "$expect" ] && echo "GOSSIPOD_BOOTSTRAP_EXPECT=$expect"
  echo "GOSSIPOD_DATA_DIR=$data_dir"
  echo "GOSSIPOD_TOKEN_FILE=/etc/gossipod/token"
  echo "GOSSIPOD_ARGS=\"$args\""
} >/etc/default/gossipod
cat /etc/default/gossipod

# The CLI talks to https://127.0.0.1:7948 by default; an agent bound elsewhere is reached
# through GOSSIPOD_ADDR, set for login shells here.
api_host=${bind:-127.0.0.1}
echo "export GOSSIPOD_ADDR=https://$api_host:7948" >/etc/profile.d/gossipod.sh

# An admin kubeconfig (the cluster CA and a client certificate issued from the token) for
# root and the users named with --kubeconfig-for; gossipod and kubectl both read it.
log "writing admin kubeconfigs"
/usr/local/bin/gossipod kubeconfig --token-file /etc/gossipod/token --server "https://$api_host:7948" \
  >/etc/gossipod/admin.kubeconfig.new
chmod 600 /etc/gossipod/admin.kubeconfig.new
mv -f /etc/gossipod/admin.kubeconfig.new /etc/gossipod/admin.kubeconfig
# root's own ~/.kube/config is written only when it has none (it may hold other clusters);
# users named with --kubeconfig-for asked for theirs to be replaced.
targets=("${kube_users[@]}")
if [ -e /root/.kube/config ]; then
  log "/root/.kube/config exists, left as it is (the admin kubeconfig is /etc/gossipod/admin.kubeconfig)"
else
  targets+=(root)
fi
for u in "${targets[@]}"; do
  home=$(getent passwd "$u" | cut -d: -f6)
  [ -n "$home" ] || continue
  install -d -m 0700 -o "$u" "$home/.kube"
  install -m 0600 -o "$u" /etc/gossipod/admin.kubeconfig "$home/.kube/config"
  log "wrote $home/.kube/config"
done

# 4. The unit.
log "installing $unit as /etc/systemd/system/gossipod.service"
install -m 0644 "$unit" /etc/systemd/system/gossipod.service
if [ ! -d /run/systemd/system ]; then
  log "systemd is not running here: unit installed, not started"
  exit 0
fi
systemctl daemon-reload
systemctl enable gossipod.service
systemctl restart gossipod.service

# 5. A quick look: the service must stay up; the API answers once the agent is listening
#    (under software emulation that can take a while: --api-wait).
sleep 2
if ! systemctl is-active --quiet gossipod.service; then
  systemctl status --no-pager gossipod.service || true
  journalctl -u gossipod.service -n 50 --no-pager || true
  die "gossipod.service is not running"
fi
cli=(/usr/local/bin/gossipod --kubeconfig /etc/gossipod/admin.kubeconfig --addr "https://$api_host:7948")
deadline=$((SECONDS + api_wait))
until "${cli[@]}" members >/dev/null 2>&1; do
  if [ $SECONDS -ge $deadline ]; then
    journalctl -u gossipod.service -n 30 --no-pager || true
    if [ ${#images[@]} -gt 0 ]; then
      die "the agent's API at https://$api_host:7948 did not answer within $api_wait s: images not loaded"
    fi
    log "WARNING: the agent runs but its API at https://$api_host:7948 did not answer within $api_wait s"
    exit 0
  fi
  sleep 1
done
"${cli[@]}" members || true
log "gossipod agent ${name:-$(hostname)} is running"

# 6. Images: into this agent's own image store (each node has its own). The agent may
#    still be starting its runtime: retry for a while.
for f in "${images[@]}"; do
  log "loading image archive $f"
  deadline=$((SECONDS + api_wait))
  until out=$("${cli[@]}" image load "$f" 2>&1); do
    if [ $SECONDS -ge $deadline ]; then
      printf '%s\n' "$out" >&2
      die "gossipod image load $f failed for $api_wait s"
    fi
    sleep 2
  done
  printf '%s\n' "$out"
done
