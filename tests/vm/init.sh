#!/bin/busybox sh
# /init of the test guest (see tests/vm/harness.py). Runs under busybox from the initramfs.
#
# The kernel command line carries edge_ctl=<name>: the control folder inside the writable
# share (tag "shared"). In it the host wrote `target` (the share's absolute path on the host,
# where it is mounted again inside the chroot) and `run.sh` (the command to run).
# The host's root comes read-only over 9p (tag "hostroot") and the command runs chrooted in it.

/bin/busybox mkdir -p /bin /proc /sys /dev /mnt/host /mnt/shared
/bin/busybox --install -s /bin
export PATH=/bin

mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys

die() {
    echo "edge-vm: $*"
    poweroff -f
    sleep 60
}

for module in /modules/*.ko; do
    insmod "$module" || echo "edge-vm: insmod $module failed"
done

mount -t configfs configfs /sys/kernel/config || die "cannot mount configfs"
ip link set lo up || die "cannot bring up lo"
hostname edge-vm

mount_9p() {  # tag target options
    tries=0
    until mount -t 9p -o "trans=virtio,version=9p2000.L,msize=512000,$3" "$1" "$2"; do
        tries=$((tries + 1))
        [ "$tries" -ge 50 ] && die "cannot mount 9p share $1"
        sleep 0.1
    done
}

mount_9p hostroot /mnt/host ro,cache=loose
mount_9p shared /mnt/shared rw

[ -n "$edge_ctl" ] || die "no edge_ctl= on the kernel command line"
read -r target < "/mnt/shared/$edge_ctl/target" || die "no target in control folder"

H=/mnt/host
mount -t devtmpfs devtmpfs "$H/dev" || die "cannot mount /dev in the chroot"
mkdir -p "$H/dev/pts" "$H/dev/shm"
mount -t devpts -o ptmxmode=0666,mode=0620 devpts "$H/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$H/dev/shm"
mount -t proc proc "$H/proc"
mount -t sysfs sysfs "$H/sys"
mount -t configfs configfs "$H/sys/kernel/config"
mount -t tmpfs -o mode=1777 tmpfs "$H/tmp"
mount -t tmpfs -o mode=0755 tmpfs "$H/run"
# The share's folder may lie under /tmp or /run, now hidden by the tmpfs: make it again.
mkdir -p "$H$target" || die "cannot make $target"
mount --bind /mnt/shared "$H$target" || die "cannot mount the share at $target"

echo "edge-vm: running $target/$edge_ctl/run.sh"
env -i chroot "$H" /bin/sh "$target/$edge_ctl/run.sh"
echo "edge-vm: command finished with $?"
sync
poweroff -f
sleep 60
