#!/usr/bin/env bash
# Builds a Debian 12 (bookworm) box for vagrant-libvirt offline, from Debian's packages
# only, and adds it to Vagrant (make vagrant-box). For machines that cannot download a
# public box; users with internet use the Vagrantfile's default, debian/bookworm64.
#
#   scripts/vagrant-box.sh          build and `vagrant box add` it, unless already done
#   scripts/vagrant-box.sh --force  rebuild even if the box is up to date
#   scripts/vagrant-box.sh --env    print the settings that make the Vagrantfile use it
#
# The box is built once per machine: it is skipped when Vagrant already has it and the
# recipe (this script) has not changed since, as recorded in $BOX_DIR/recipe.sha256.
#
# What it is: debootstrap --variant=minbase with a kernel, systemd, ssh, ifupdown/DHCP and
# what the gossipod agent needs at run time (iproute2, iptables, CNI plugins,
# ca-certificates); a `vagrant` user with passwordless sudo and Vagrant's well-known
# insecure key; eth0 on DHCP; classic interface names. The root file system is written
# straight into an ext4 image (mkfs.ext4 -d) and converted to qcow2: there is no
# partition table and no boot loader. VMs boot the kernel and initrd kept in $BOX_DIR
# directly (libvirt's direct kernel boot), which the box's own Vagrantfile sets up,
# together with software emulation (libvirt driver qemu, CPU model qemu64): KVM is not
# usable on the machines this was written for.
#
# Environment:
#   GOSSIPOD_BOX_NAME=gossipod/debian12            the name the box is added under
#   GOSSIPOD_BOX_DIR=/var/cache/gossipod/vagrant-box  kernel, initrd, recipe stamp, and
#                                                  the build's scratch space (~1.5 GB)
#   GOSSIPOD_BOX_MIRROR=http://deb.debian.org/debian  (default: the host's Debian mirror)
#   GOSSIPOD_BOX_SIZE=4                            root file system size, GB (sparse)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SELF="$ROOT/scripts/vagrant-box.sh"
BOX_NAME=${GOSSIPOD_BOX_NAME:-gossipod/debian12}
BOX_DIR=${GOSSIPOD_BOX_DIR:-/var/cache/gossipod/vagrant-box}
SIZE_GB=${GOSSIPOD_BOX_SIZE:-4}
SUITE=bookworm
CMDLINE="root=/dev/vda rw console=ttyS0 net.ifnames=0"

# The box's packages: the base the facts list, plus what the agent needs at run time.
PACKAGES=(
  linux-image-amd64 systemd-sysv udev dbus kmod procps
  openssh-server sudo rsync
  ifupdown isc-dhcp-client iproute2
  iptables containernetworking-plugins ca-certificates
)

log() { printf 'vagrant-box: %s\n' "$*"; }
die() { printf 'vagrant-box: error: %s\n' "$*" >&2; exit 1; }

force=false print_env=false
for arg in "$@"; do
  case "$arg" in
    --force) force=true ;;
    --env) print_env=true ;;
    -h|--help) sed -n '2,30p' "$SELF"; exit 0 ;;
    *) die "unknown argument: $arg (--force, --env)" ;;
  esac
done
[[ $SIZE_GB =~ ^[0-9]+$ ]] || die "GOSSIPOD_BOX_SIZE must be a number of GB, got '$SIZE_GB'"

if $print_env; then
  # What scripts/vagrant-test.sh (or a user) exports to run the Vagrantfile on this box.
  printf 'GOSSIPOD_BOX=%s\n' "$BOX_NAME"
  printf 'GOSSIPOD_LIBVIRT_DRIVER=qemu\n'
  printf 'GOSSIPOD_CPU_MODEL=qemu64\n'
  printf 'GOSSIPOD_KERNEL=%s\n' "$BOX_DIR/vmlinuz"
  printf 'GOSSIPOD_INITRD=%s\n' "$BOX_DIR/initrd.img"
  printf 'GOSSIPOD_CMDLINE=%q\n' "$CMDLINE"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "debootstrap and the image need root: run as root"
  log "debootstrap needs root: re-running with sudo"
  exec sudo env GOSSIPOD_BOX_NAME="$BOX_NAME" GOSSIPOD_BOX_DIR="$BOX_DIR" \
    GOSSIPOD_BOX_SIZE="$SIZE_GB" GOSSIPOD_BOX_MIRROR="${GOSSIPOD_BOX_MIRROR:-}" \
    bash "$SELF" "$@"
fi

# The recipe is this script: any change to it (packages, configuration) rebuilds the box.
recipe=$(sha256sum "$SELF" | cut -d' ' -f1)

box_added() {
  command -v vagrant >/dev/null &&
    vagrant box list 2>/dev/null | awk -v n="$BOX_NAME" '$1 == n && $2 ~ /libvirt/ { f = 1 } END { exit !f }'
}

if ! $force && box_added && [ -s "$BOX_DIR/vmlinuz" ] && [ -s "$BOX_DIR/initrd.img" ] &&
  [ "$(cat "$BOX_DIR/recipe.sha256" 2>/dev/null)" = "$recipe" ]; then
  log "box $BOX_NAME is up to date (recipe ${recipe:0:12}); kernel and initrd in $BOX_DIR"
  exit 0
fi

# --- tools ---------------------------------------------------------------------------
installed() { [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == ii* ]]; }
missing=()
for p in debootstrap qemu-utils e2fsprogs vagrant vagrant-libvirt debian-archive-keyring; do
  installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The host's Debian mirror (deb822 or one-line sources), else Debian's CDN.
host_mirror() {
  local m
  m=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources |
    awk '{ for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }')
  [ -n "$m" ] || m=$(grep -hsE '^deb +(\[[^]]*\] +)?https?://' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
    grep -v security | awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }')
  echo "${m:-http://deb.debian.org/debian}"
}
MIRROR=${GOSSIPOD_BOX_MIRROR:-$(host_mirror)}

# Vagrant's well-known insecure public key, from the installed Vagrant.
pubkey=""
for k in /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub \
  /opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub \
  /usr/lib/ruby/vendor_ruby/vagrant/keys/vagrant.pub; do
  if [ -f "$k" ]; then pubkey=$k; break; fi
done
[ -n "$pubkey" ] || die "cannot find Vagrant's insecure public key (keys/vagrant.pub of the vagrant package)"

# --- build ---------------------------------------------------------------------------
mkdir -p "$BOX_DIR"
chmod 0755 "$BOX_DIR"  # libvirt's QEMU (user libvirt-qemu) reads the kernel and initrd
work=$(mktemp -d "$BOX_DIR/build.XXXXXX")
rootfs="$work/rootfs"

cleanup() {
  # debootstrap mounts /proc and /sys in the target while it installs; never rm -rf
  # through a mount.
  local m
  while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(
    awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r)
  rm -rf "$work"
}
trap cleanup EXIT

start=$(date +%s)
log "debootstrap $SUITE from $MIRROR into $rootfs (a few minutes)"
debootstrap --variant=minbase --components=main \
  --include="$(IFS=,; echo "${PACKAGES[*]}")" \
  "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  die "debootstrap failed (full log above, last lines)"
}
log "debootstrap done in $(($(date +%s) - start)) s"

log "configuring the guest"
echo gossipod-box >"$rootfs/etc/hostname"
cat >"$rootfs/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	gossipod-box
::1		localhost ip6-localhost ip6-loopback
EOF
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$rootfs/etc/fstab"

# eth0 (the management network Vagrant reaches the VM on) by DHCP; Vagrant appends the
# private network's static address for eth1 to this file.
cat >"$rootfs/etc/network/interfaces" <<'EOF'
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback

allow-hotplug eth0
iface eth0 inet dhcp
EOF

# The vagrant user: passwordless sudo, Vagrant's insecure key (replaced by a key of its
# own on the first `vagrant up`).
chroot "$rootfs" useradd --create-home --shell /bin/bash vagrant
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' >"$rootfs/etc/sudoers.d/vagrant"
chmod 0440 "$rootfs/etc/sudoers.d/vagrant"
install -d -m 0700 "$rootfs/home/vagrant/.ssh"
install -m 0600 "$pubkey" "$rootfs/home/vagrant/.ssh/authorized_keys"
chroot "$rootfs" chown -R vagrant:vagrant /home/vagrant/.ssh

# Every VM gets its own ssh host keys and machine id at its first boot, not the build's.
# Only ECDSA and Ed25519: RSA key generation takes long under emulation.
rm -f "$rootfs"/etc/ssh/ssh_host_*
cat >"$rootfs/etc/ssh/sshd_config.d/gossipod-box.conf" <<'EOF'
HostKey /etc/ssh/ssh_host_ecdsa_key
HostKey /etc/ssh/ssh_host_ed25519_key
UseDNS no
EOF
mkdir -p "$rootfs/etc/systemd/system/ssh.service.d"
cat >"$rootfs/etc/systemd/system/ssh.service.d/gossipod-box-hostkeys.conf" <<'EOF'
[Service]
ExecStartPre=
ExecStartPre=/bin/sh -c 'for t in ecdsa ed25519; do f=/etc/ssh/ssh_host_$${t}_key; [ -s $$f ] || ssh-keygen -q -t $$t -N "" -f $$f; done'
ExecStartPre=/usr/sbin/sshd -t
EOF
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"

# No network traffic of its own: the VMs run offline.
for t in apt-daily.timer apt-daily-upgrade.timer; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$t"
done

chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/tmp/* 2>/dev/null || true

# The kernel and initrd, for direct kernel boot.
kernel=$(find "$rootfs/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n 1)
initrd=$(find "$rootfs/boot" -maxdepth 1 -name 'initrd.img-*' | sort -V | tail -n 1)
if [ -z "$kernel" ] || [ -z "$initrd" ]; then die "no kernel or initrd in $rootfs/boot"; fi
log "kernel $(basename "$kernel"), $(basename "$initrd")"

log "writing the root file system image (ext4, ${SIZE_GB} GB sparse) and converting it to qcow2"
truncate -s "${SIZE_GB}G" "$work/root.raw"
mkfs.ext4 -q -F -L root -d "$rootfs" "$work/root.raw"
qemu-img convert -O qcow2 "$work/root.raw" "$work/box.img"
rm -f "$work/root.raw"

printf '{"provider":"libvirt","format":"qcow2","virtual_size":%d}\n' "$SIZE_GB" >"$work/metadata.json"
# The box's own Vagrantfile: a project's Vagrantfile can override every line of it.
cat >"$work/Vagrantfile" <<EOF
# Box $BOX_NAME, built by gossipod's scripts/vagrant-box.sh (recipe ${recipe:0:12}).
# No boot loader: libvirt boots the kernel and initrd kept on the host that built it.
Vagrant.configure("2") do |config|
  config.vm.synced_folder ".", "/vagrant", disabled: true
  config.vm.provider :libvirt do |lv|
    lv.driver = "qemu"
    lv.cpu_mode = "custom"
    lv.cpu_model = "qemu64"
    lv.cpu_fallback = "allow"
    lv.kernel = "$BOX_DIR/vmlinuz"
    lv.initrd = "$BOX_DIR/initrd.img"
    lv.cmd_line = "$CMDLINE"
    # Headless (no VNC, no emulated VGA): the serial console and ssh are enough, and every
    # emulated device costs host CPU.
    lv.graphics_type = "none"
  end
end
EOF
tar -cf "$work/box.box" -C "$work" metadata.json Vagrantfile box.img
rm -f "$work/box.img"

log "vagrant box add $BOX_NAME"
vagrant box add --force --name "$BOX_NAME" --provider libvirt "$work/box.box"

install -m 0644 "$kernel" "$BOX_DIR/vmlinuz"
install -m 0644 "$initrd" "$BOX_DIR/initrd.img"
echo "$recipe" >"$BOX_DIR/recipe.sha256"
log "box $BOX_NAME added in $(($(date +%s) - start)) s; kernel and initrd in $BOX_DIR"
