# Profile "macos-hvf": arm64 guest with Apple's Hypervisor.framework on an
# Apple-silicon Mac (plain QEMU from Homebrew, or the QEMU inside UTM).
# macOS has no kernel vsock and QEMU's vhost-vsock needs Linux vhost, so the
# guest reaches the host exactly like the tcg profile: a virtio-serial port
# whose chardev connects to the host Unix socket where vsocksrc listens
# (guest: vsocksink uri=serial:///dev/virtio-ports/vmstream.0, host:
# vsocksrc uri=unix://PATH). See docs/vm.md for why not guestfwd or hybrid vsock.
# Needs an arm64 image: VMSTREAM_VM_ARCH=arm64 / build-image --arch arm64.
# Sourced by vm/vmstream-vm; appends to the Q array.
PROFILE_QEMU=${VMSTREAM_QEMU:-qemu-system-aarch64}
PROFILE_ARCH=arm64
PROFILE_TRANSPORT=serial
PROFILE_CONSOLE_TTY=ttyAMA0
PROFILE_DEFAULT_MEMORY=4096

profile_check ()
{
  if [ "$(uname -s)" != Darwin ] && [ "${VMSTREAM_VM_DRY_RUN:-0}" != 1 ]; then
    fail 5 "The macos-hvf profile runs on macOS only (Hypervisor.framework); on Linux use --profile linux-kvm or tcg."
  fi
}

profile_args ()
{
  Q+=(-machine virt,highmem=on -accel hvf -cpu host)
  Q+=(-smp "$CPUS" -m "$MEMORY")
  # vmstream-vm runs QEMU with -display none, and virtio-gpu-gl-pci needs a
  # GL display (QEMU refuses to start without one): the default is the
  # plain virtio-gpu-pci, which Homebrew's QEMU has and which needs no
  # display. VMSTREAM_VM_GPU=virtio-gpu-gl-pci only together with a GL
  # display, e.g. VMSTREAM_VM_DISPLAY=cocoa,gl=es (UTM's QEMU build).
  Q+=(-device "${VMSTREAM_VM_GPU:-virtio-gpu-pci}")
  Q+=(-nic "user,model=virtio-net-pci")
}
