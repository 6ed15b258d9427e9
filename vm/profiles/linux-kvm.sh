# Profile "linux-kvm": x86_64 guest with KVM on a Linux host, real
# virtio-vsock through the kernel's vhost-vsock. The guest sends with
# vsocksink uri=vsock://2:PORT (CID 2 is the host); the host listens with
# vsocksrc uri=vsock://PORT... (see docs/vm.md). Needs /dev/kvm and
# /dev/vhost-vsock (modprobe vhost_vsock) on the host; the guest CID
# (--cid, HELIX_VM_CID, default 3) must be unique among running VMs.
# Sourced by vm/vmstream-vm; appends to the Q array.
PROFILE_QEMU=${VMSTREAM_QEMU:-qemu-system-x86_64}
PROFILE_ARCH=amd64
PROFILE_TRANSPORT=vsock
PROFILE_CONSOLE_TTY=ttyS0
PROFILE_DEFAULT_MEMORY=4096

profile_check ()
{
  [ -r /dev/kvm ] && [ -w /dev/kvm ] \
    || fail 5 "The linux-kvm profile needs read-write access to /dev/kvm: enable virtualisation in the firmware, load kvm_intel or kvm_amd, and add your user to the kvm group (or use --profile tcg)."
  [ -e /dev/vhost-vsock ] \
    || fail 5 "The linux-kvm profile needs /dev/vhost-vsock for virtio-vsock: run 'modprobe vhost_vsock' as root (or use --profile tcg, which uses virtio-serial)."
}

profile_args ()
{
  Q+=(-machine q35 -accel kvm -cpu host)
  Q+=(-smp "$CPUS" -m "$MEMORY")
  Q+=(-device "${VMSTREAM_VM_GPU:-virtio-vga}")
  Q+=(-device "vhost-vsock-pci,guest-cid=$CID")
  Q+=(-nic "user,model=virtio-net-pci")
}
