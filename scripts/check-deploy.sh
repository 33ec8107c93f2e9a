#!/usr/bin/env bash
# Static checks of the shell scripts, the Vagrantfile and the systemd unit (make check-deploy).
# A tool that is not installed is skipped with a note, except under CI=true, where .ci/run
# has installed ruby and so `ruby -c` is required.
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
say() { printf 'check-deploy: %s\n' "$*"; }
bad() { say "FAIL: $*"; fail=1; }

shopt -s nullglob
shells=(scripts/*.sh deploy/*.sh .ci/run)

for f in "${shells[@]}"; do
  bash -n "$f" || bad "bash -n $f"
done
say "bash -n: ${#shells[@]} scripts checked"

if command -v shellcheck >/dev/null; then
  if shellcheck -x "${shells[@]}"; then say "shellcheck: ${#shells[@]} scripts ok"; else bad "shellcheck"; fi
else
  say "shellcheck not installed: skipped"
fi

if command -v ruby >/dev/null; then
  if ruby -c Vagrantfile >/dev/null; then say "ruby -c Vagrantfile: ok"; else bad "ruby -c Vagrantfile"; fi
elif [ "${CI:-}" = true ]; then
  bad "ruby is not installed (CI=true: .ci/run should have installed it)"
else
  say "ruby not installed: Vagrantfile syntax not checked"
fi

# systemd-analyze verify also checks that ExecStart's binary exists and is executable.
# /usr/local/bin/gossipod is only there on an installed machine, so verify a copy of the
# unit whose ExecStart points at an executable stand-in; the rest of the unit is unchanged.
if command -v systemd-analyze >/dev/null; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  printf '#!/bin/sh\nexit 0\n' >"$tmp/gossipod"
  chmod +x "$tmp/gossipod"
  sed "s#/usr/local/bin/gossipod#$tmp/gossipod#g" deploy/gossipod.service >"$tmp/gossipod.service"
  rc=0
  out=$(systemd-analyze verify "$tmp/gossipod.service" 2>&1) || rc=$?
  # Lines naming our unit are problems in it (verify exits 0 on some of them). A non-zero
  # exit with no such line comes from other units of this machine that ours pulls in.
  if grep -F 'gossipod.service' <<<"$out" >/dev/null; then
    printf '%s\n' "$out"
    bad "systemd-analyze verify deploy/gossipod.service reported problems"
  elif [ "$rc" -ne 0 ]; then
    printf '%s\n' "$out"
    say "systemd-analyze exited $rc about other units of this machine, none about ours"
  fi
  say "systemd-analyze verify deploy/gossipod.service: checked"  # problems were reported above
else
  say "systemd-analyze not installed: unit file not verified"
fi

if [ "$fail" -ne 0 ]; then
  say "FAILED"
  exit 1
fi
say "ok"
