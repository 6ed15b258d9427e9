#!/bin/bash
# vm suite, fast: vm/vmstream-vm refuses bad input with a sentence, a
# non-zero exit status, and no QEMU left behind; the profiles' command lines
# carry what each platform needs. Needs no guest image and starts no VM.
set -u
SRC=${VMSTREAM_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
VMV="$SRC/vm/vmstream-vm"
TMP=$(mktemp -d)
NAME="badinput-$$"
failures=0
passes=0
helper_pids=()
cleanup ()
{
  for p in ${helper_pids[@]+"${helper_pids[@]}"}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# A fake image folder, so the checks after the image check are reached.
mkdir -p "$TMP/img"
touch "$TMP/img/disk.img" "$TMP/img/vmlinuz" "$TMP/img/initrd.img" "$TMP/img/.complete"

# expect NAME STATUS PATTERN -- command...: exit status and a message matching PATTERN
expect ()
{
  local what=$1 status=$2 pattern=$3
  shift 4
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" != "$status" ] || ! grep -Eq -- "$pattern" <<<"$out"; then
    echo "not ok - $what: exit $rc (want $status), output: $out"
    failures=$((failures + 1))
  elif pgrep -f "vmstream-$NAME" >/dev/null; then
    echo "not ok - $what: a QEMU for $NAME is running"
    failures=$((failures + 1))
  else
    echo "ok - $what: $(head -1 <<<"$out")"
    passes=$((passes + 1))
  fi
}

common=(--name "$NAME" --runtime-dir "$TMP/rt" --image "$TMP/img")

expect "missing QEMU" 5 "QEMU is not installed: .* install it" -- \
  env VMSTREAM_QEMU=/nonexistent/qemu-system-x86_64 "$VMV" run "${common[@]}"
expect "missing image" 3 "No guest image at $TMP/none .*build-image" -- \
  "$VMV" run --name "$NAME" --runtime-dir "$TMP/rt" --image "$TMP/none"
expect "image not built" 3 "has not been built.*build-image" -- \
  env VMSTREAM_VM_CACHE="$TMP/emptycache" "$VMV" image
expect "unknown profile" 2 "unknown profile 'vmware': choose one of .*linux-kvm.*macos-hvf.*tcg" -- \
  "$VMV" run "${common[@]}" --profile vmware
expect "unset template variable" 2 'cannot expand the guest pipeline: .*DISPLAY_NAME.*has no value' -- \
  "$VMV" run "${common[@]}" --pipeline <(echo 'ximagesrc display-name=${DISPLAY_NAME} ! fakesink')
expect "bad CPU count" 2 "HELIX_VM_CPUS must be a positive number" -- \
  env HELIX_VM_CPUS=lots "$VMV" run "${common[@]}"
expect "CID 2 refused" 2 "--cid must be 3 or more" -- \
  "$VMV" command "${common[@]}" --profile linux-kvm --cid 2
expect "unreadable share file" 2 "cannot read the file '$TMP/nofile' given to --share-file" -- \
  "$VMV" run "${common[@]}" --share-file "$TMP/nofile"
expect "missing plugin folder" 2 "plugin folder '$TMP/noplugins' does not exist" -- \
  "$VMV" run "${common[@]}" --plugins "$TMP/noplugins"

# Busy QMP socket: something listens there already.
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
print("ready", flush=True); time.sleep(60)' "$TMP/busy-qmp.sock" </dev/null >"$TMP/listener.out" 2>&1 &
helper_pids+=($!)
for _ in $(seq 1 100); do grep -q ready "$TMP/listener.out" 2>/dev/null && break; sleep 0.05; done
expect "busy QMP socket" 4 "QMP socket $TMP/busy-qmp.sock is in use by a running QEMU" -- \
  "$VMV" run "${common[@]}" --qmp "$TMP/busy-qmp.sock"
touch "$TMP/not-a-socket"
expect "QMP path not a socket" 4 "exists and is not a socket" -- \
  "$VMV" run "${common[@]}" --qmp "$TMP/not-a-socket"
expect "stream path not a socket" 4 "stream socket path .* is not a socket" -- \
  "$VMV" run "${common[@]}" --stream-socket "$TMP/not-a-socket"
expect "VNC path not a socket" 4 "VNC socket path .* is not a socket" -- \
  "$VMV" run "${common[@]}" --vnc-socket "$TMP/not-a-socket"
expect "busy VNC socket" 4 "VNC socket $TMP/busy-qmp.sock is in use by a running QEMU" -- \
  "$VMV" run "${common[@]}" --vnc-socket "$TMP/busy-qmp.sock"
expect "relative VNC socket" 2 "--vnc-socket needs an absolute path without commas" -- \
  "$VMV" command "${common[@]}" --vnc-socket vnc.sock
expect "relative display QMP socket" 2 "--display-qmp needs an absolute path without commas" -- \
  "$VMV" command "${common[@]}" --display-qmp dq.sock
expect "display QMP path not a socket" 4 "display QMP socket path .* is not a socket" -- \
  "$VMV" run "${common[@]}" --display-qmp "$TMP/not-a-socket"
expect "busy display QMP socket" 4 "display QMP socket $TMP/busy-qmp.sock is in use by a running QEMU" -- \
  "$VMV" run "${common[@]}" --display-qmp "$TMP/busy-qmp.sock"
expect "--display-qmp with VMSTREAM_VM_DISPLAY" 2 "--display-qmp sets QEMU's display to dbus,p2p=on: unset VMSTREAM_VM_DISPLAY" -- \
  env VMSTREAM_VM_DISPLAY=gtk "$VMV" command "${common[@]}" --display-qmp "$TMP/dq.sock"
expect "VNC socket with a comma" 2 "--vnc-socket needs an absolute path without commas" -- \
  "$VMV" command "${common[@]}" --vnc-socket "$TMP/a,b.sock"

# Busy name: another VM of that name holds the runtime lock.
mkdir -p "$TMP/rt"
(exec 9>"$TMP/rt/lock" && flock 9 && echo locked >"$TMP/lock.out" && exec sleep 60) </dev/null >/dev/null 2>&1 &
helper_pids+=($!)
for _ in $(seq 1 100); do grep -q locked "$TMP/lock.out" 2>/dev/null && break; sleep 0.05; done
expect "busy VM name" 4 "A VM named '$NAME' is already running" -- \
  "$VMV" run "${common[@]}"

if [ ! -e /dev/vhost-vsock ]; then
  expect "linux-kvm without vhost-vsock" 5 "needs (/dev/vhost-vsock|read-write access to /dev/kvm)" -- \
    "$VMV" run "${common[@]}" --profile linux-kvm
fi
if [ "$(uname -s)" != Darwin ]; then
  expect "macos-hvf on Linux" 5 "runs on macOS only" -- \
    env VMSTREAM_QEMU=true "$VMV" run "${common[@]}" --profile macos-hvf
fi

# Variants (issue 14): the desktop guest streams its PipeWire ScreenCast
# node with guest-pipewire.txt, the test guest its test pattern; a QEMU
# stand-in prints the guest pipeline vmstream-vm put into the share.
cat >"$TMP/fake-qemu-guest" <<'FAKE'
#!/bin/bash
for a; do case $a in *,path=*/share,*) d=${a#*,path=}; cat "${d%%,*}/guest.txt" ;; esac; done
FAKE
chmod +x "$TMP/fake-qemu-guest"
mkdir -m 700 "$TMP/rt4" && echo secret >"$TMP/rt4/link-secret" && chmod 600 "$TMP/rt4/link-secret"
expect "desktop variant runs guest-pipewire with the ScreenCast node" 0 \
  "^pipewiresrc path=@PIPEWIRE_NODE@ .*vsocksink uri=serial:" -- \
  env VMSTREAM_QEMU="$TMP/fake-qemu-guest" \
  "$VMV" run --name "$NAME-4" --runtime-dir "$TMP/rt4" --image "$TMP/img" --variant desktop
# the desktop guest's user (uid 1000) reads the share: others may read it,
# inside the runtime folder that stays 0700; the test guest's (root) is 0600
expect "desktop share readable by the guest's desktop user" 0 "^-rw-r--r-- .*-rw-r--r-- .*drwx------ $" -- \
  bash -c 'stat -c %A "$1/share/guest.txt" "$1/share/link-secret" "$1" | tr "\n" " "' _ "$TMP/rt4"
expect "test variant runs testsrc" 0 "^videotestsrc " -- \
  env VMSTREAM_QEMU="$TMP/fake-qemu-guest" \
  "$VMV" run --name "$NAME-4" --runtime-dir "$TMP/rt4" --image "$TMP/img" --variant test
expect "test share is the owner's alone" 0 "^-rw------- .*-rw------- $" -- \
  bash -c 'stat -c %A "$1/share/guest.txt" "$1/share/link-secret" | tr "\n" " "' _ "$TMP/rt4"
expect "bad variant" 2 "--variant must be test .* or desktop .*, not 'kde'" -- \
  "$VMV" command "${common[@]}" --variant kde
expect "desktop command uses the desktop image" 0 "guest-[a-z0-9]+-desktop-amd64-[0-9a-f]+/disk\.img" -- \
  env VMSTREAM_VM_CACHE="$TMP/emptycache" "$VMV" command --name "$NAME" --runtime-dir "$TMP/rt" --variant desktop
# Profiles: what each command line must contain.
expect "tcg desktop command has a display" 0 "-device virtio-vga" -- \
  "$VMV" command "${common[@]}" --variant desktop
expect "tcg command" 0 "qemu-system-x86_64 .*-accel tcg.*-smp 3 -m 1536 .*virtserialport.*name=vmstream\.0" -- \
  env HELIX_VM_CPUS=3 HELIX_VM_MEMORY=1536 "$VMV" command "${common[@]}"
expect "linux-kvm command" 0 "-accel kvm .*vhost-vsock-pci.*guest-cid=7" -- \
  "$VMV" command "${common[@]}" --profile linux-kvm --cid 7
expect "macos-hvf command" 0 "qemu-system-aarch64 .*-display none .*-accel hvf .*-device virtio-gpu-pci .*console=ttyAMA0.*virtserialport" -- \
  "$VMV" command "${common[@]}" --profile macos-hvf
# QEMU-display capture: the VNC server on the Unix socket only, and a
# display device even where the profile has none (tcg's test variant)
expect "tcg command with --vnc-socket" 0 "-device virtio-vga .*-vnc unix:$TMP/rt/vnc\.sock($| )" -- \
  "$VMV" command "${common[@]}" --vnc-socket "$TMP/rt/vnc.sock"
# (the command line is one line: grep -v prints it only without -vnc)
expect "tcg command without --vnc-socket has no VNC and no display" 0 "qemu-system-x86_64 " -- \
  bash -c '"$@" | grep -v -- " -vnc " && ! "$@" | grep -q -- "-device virtio-vga"' _ \
  "$VMV" command "${common[@]}"
expect "linux-kvm command with --vnc-socket keeps its device" 0 "-device virtio-vga .*-vnc unix:$TMP/k\.sock" -- \
  "$VMV" command "${common[@]}" --profile linux-kvm --vnc-socket "$TMP/k.sock"
expect "macos-hvf command with --vnc-socket keeps its device" 0 "-device virtio-gpu-pci .*-vnc unix:$TMP/m\.sock" -- \
  "$VMV" command "${common[@]}" --profile macos-hvf --vnc-socket "$TMP/m.sock"
expect "tcg command with --display-qmp" 0 "-display dbus,p2p=on .*-device virtio-vga .*-qmp unix:$TMP/rt/dq\.sock,server=on,wait=off" -- \
  "$VMV" command "${common[@]}" --display-qmp "$TMP/rt/dq.sock"
# QEMU creates the socket with the owner's permissions only (umask 177)
cat >"$TMP/fake-qemu-umask" <<'FAKE'
#!/bin/bash
echo "umask $(umask) args $*"
FAKE
chmod +x "$TMP/fake-qemu-umask"
expect "--vnc-socket runs QEMU with umask 177" 0 "umask 0177 args .*-vnc unix:$TMP/rt3/vnc\.sock" -- \
  env VMSTREAM_QEMU="$TMP/fake-qemu-umask" \
  "$VMV" run --name "$NAME-3" --runtime-dir "$TMP/rt3" --image "$TMP/img" --vnc-socket "$TMP/rt3/vnc.sock"
# a GL device only with a GL display: -display none and virtio-gpu-gl-pci
# together make QEMU refuse to start
expect "macos-hvf GL command" 0 "-display cocoa,gl=es .*-device virtio-gpu-gl-pci " -- \
  env VMSTREAM_VM_GPU=virtio-gpu-gl-pci VMSTREAM_VM_DISPLAY=cocoa,gl=es \
  "$VMV" command "${common[@]}" --profile macos-hvf

# macOS has no flock(1): the name lock falls back to Perl's flock. Run the
# busy-name check again with a PATH that has everything but flock.
mkdir -p "$TMP/noflock"
for d in /usr/local/bin /usr/bin /bin /usr/sbin /sbin; do
  for f in "$d"/*; do
    b=${f##*/}
    [ "$b" = flock ] || [ -e "$TMP/noflock/$b" ] || ln -s "$f" "$TMP/noflock/$b"
  done
done
expect "busy VM name without flock(1)" 4 "A VM named '$NAME' is already running" -- \
  env PATH="$TMP/noflock" "$VMV" run "${common[@]}"
# and the fallback really takes the lock: free name, no flock(1), a
# QEMU stand-in that reports whether the lock is held while it runs
flock_bin=$(command -v flock)
cat >"$TMP/fake-qemu" <<FAKE
#!/bin/bash
if "$flock_bin" -n "$TMP/rt2/lock" true; then echo "lock free"; else echo "lock held"; fi
FAKE
chmod +x "$TMP/fake-qemu"
expect "lock held by the VM without flock(1)" 0 "lock held" -- \
  env PATH="$TMP/noflock" VMSTREAM_QEMU="$TMP/fake-qemu" \
  "$VMV" run --name "$NAME-2" --runtime-dir "$TMP/rt2" --image "$TMP/img"

# Parent death without PR_SET_PDEATHSIG (macOS): QEMU dies when the pipe
# named by VMSTREAM_PARENT_FD reaches EOF. A fake QEMU that only sleeps,
# the pipe's write end held by a helper we then kill.
cat >"$TMP/sleepy-qemu" <<'FAKE'
#!/bin/bash
exec sleep 60
FAKE
chmod +x "$TMP/sleepy-qemu"
mkfifo "$TMP/parent.fifo"
sleep 120 >"$TMP/parent.fifo" &
holder=$!
helper_pids+=($holder)
VMSTREAM_PARENT_FD=3 VMSTREAM_QEMU="$TMP/sleepy-qemu" \
  "$VMV" run --name "$NAME-3" --runtime-dir "$TMP/rt3" --image "$TMP/img" \
  3<"$TMP/parent.fifo" >/dev/null 2>&1 &
vm=$!
helper_pids+=($vm)
sleep_ok=0
for _ in $(seq 1 100); do pgrep -P "$vm" >/dev/null 2>&1 && break; sleep 0.05; done
kill -0 "$vm" 2>/dev/null && sleep_ok=1
kill "$holder"; wait "$holder" 2>/dev/null
gone=0
for _ in $(seq 1 100); do kill -0 "$vm" 2>/dev/null || { gone=1; break; }; sleep 0.05; done
wait "$vm" 2>/dev/null
if [ "$sleep_ok" = 1 ] && [ "$gone" = 1 ]; then
  echo "ok - QEMU ends when the parent's pipe closes (VMSTREAM_PARENT_FD)"
  passes=$((passes + 1))
else
  echo "not ok - QEMU ends when the parent's pipe closes (running before: $sleep_ok, gone after: $gone)"
  failures=$((failures + 1))
fi

# bash 3.2 (macOS's /bin/bash) has none of these bash 4 features
for f in "$SRC/vm/vmstream-vm" "$SRC"/vm/profiles/*.sh; do
  if grep -nE 'declare -[aA]*A|local -[A-Za-z]*[An]|mapfile|readarray|\$\{[A-Za-z_]+(,,|\^\^)|&>>|\|&|coproc|;;&' "$f"; then
    echo "not ok - ${f#$SRC/} uses a bash 4 feature (macOS has bash 3.2)"
    failures=$((failures + 1))
  else
    passes=$((passes + 1))
  fi
done
expect "usage" 2 "unknown command 'start'" -- "$VMV" start

echo "$passes passed, $failures failed"
[ "$failures" = 0 ]
