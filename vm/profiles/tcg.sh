# Profile "tcg": x86_64 guest under QEMU's software emulation. Runs on any
# Linux host (no /dev/kvm, no /dev/vhost-vsock needed); this is what the vm
# test suite boots. The guest reaches the host over virtio-serial: the port
# "vmstream.0" (guest: /dev/virtio-ports/vmstream.0) is a QEMU chardev that
# connects as a client to the host Unix socket where vsocksrc listens
# (uri=unix://PATH), reconnecting every second while nobody listens.
# Sourced by vm/vmstream-vm; appends to the Q array.
PROFILE_QEMU=${VMSTREAM_QEMU:-qemu-system-x86_64}
PROFILE_ARCH=amd64
PROFILE_TRANSPORT=serial
PROFILE_CONSOLE_TTY=ttyS0
PROFILE_DEFAULT_MEMORY=1024

profile_check ()
{
  :
}

profile_args ()
{
  # KVM cannot boot stock guests on every machine (see docs/vm.md); TCG
  # with a plain CPU model always can.
  Q+=(-machine q35 -accel tcg,thread=multi -cpu qemu64)
  Q+=(-smp "$CPUS" -m "$MEMORY")
  # The desktop variant's Sway needs a display (DRM/KMS), and so does
  # capture through QEMU's VNC server or D-Bus display (--vnc-socket,
  # --display-qmp); the test variant streaming over virtio-serial needs
  # none.
  local gpu=none
  [ "$VARIANT" = desktop ] && gpu=virtio-vga
  [ -n "${CAPTURE_DISPLAY:-}" ] && gpu=virtio-vga
  gpu=${VMSTREAM_VM_GPU:-$gpu}
  if [ "$gpu" != none ]; then
    Q+=(-device "$gpu")
  fi
  Q+=(-nic "user,model=virtio-net-pci,restrict=on")
}
