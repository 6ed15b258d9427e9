#!/bin/bash
# vm suite, fast: vm/vmstream-vm bounds the guest console on disk and keeps
# its runtime folder private. A fake QEMU (VMSTREAM_QEMU) writes 3 MiB to
# the console chardev as a guest printing without end would; with
# --console-max 1 at most 1 MiB may stay on disk, the newest output
# included. Then runtime folders someone else prepared are refused. Needs no
# guest image and starts no VM.
set -u
SRC=${VMSTREAM_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
VMV="$SRC/vm/vmstream-vm"
TMP=$(mktemp -d)
NAME="console-$$"
failures=0
trap 'rm -rf "$TMP"' EXIT

ok () { echo "ok - $*"; }
not_ok () { echo "not ok - $*"; failures=$((failures + 1)); }
size () { if [ -e "$1" ]; then wc -c <"$1" | tr -d ' '; else echo 0; fi; }
mode () { stat -c %a -- "$1" 2>/dev/null || stat -f %Lp -- "$1"; }

mkdir -p "$TMP/img"
touch "$TMP/img/disk.img" "$TMP/img/vmlinuz" "$TMP/img/initrd.img" "$TMP/img/.complete"
mkdir -p "$TMP/noplugins"
touch "$TMP/noplugins/libdummy.so"

# The fake QEMU: finds the console chardev's path, floods it, exits.
cat >"$TMP/fake-qemu" <<'FAKE'
#!/bin/bash
path=""
while [ $# -gt 0 ]; do
  case "$1" in
  -chardev) case "$2" in file,id=con0,path=*) path=${2#file,id=con0,path=} ;; esac ;;
  esac
  shift
done
[ -n "$path" ] || { echo "fake-qemu: no console chardev" >&2; exit 9; }
{
  yes "guest console: a line the guest prints again and again" | head -c 3145728
  echo "END-OF-CONSOLE"
} >"$path"
FAKE
chmod +x "$TMP/fake-qemu"

CONSOLE="$TMP/logs/console.log"
out=$(VMSTREAM_QEMU="$TMP/fake-qemu" "$VMV" run --name "$NAME" --runtime-dir "$TMP/rt" \
  --image "$TMP/img" --plugins "$TMP/noplugins" --console "$CONSOLE" --console-max 1 2>&1)
rc=$?
if [ $rc -eq 0 ]; then ok "the fake QEMU ran"; else not_ok "vmstream-vm run: exit $rc: $out"; fi
# the keeper writes what is still in the pipe, then ends
for _ in $(seq 100); do
  tail -c 100 "$CONSOLE" 2>/dev/null | grep -q END-OF-CONSOLE && break
  sleep 0.1
done
cur=$(size "$CONSOLE")
old=$(size "$CONSOLE.1")
if tail -c 100 "$CONSOLE" 2>/dev/null | grep -q END-OF-CONSOLE; then
  ok "the newest console output is kept"
else
  not_ok "the end of the console output is missing from $CONSOLE ($cur bytes)"
fi
if [ $((cur + old)) -le 1048576 ] && [ "$cur" -le 524288 ] && [ "$old" -le 524288 ]; then
  ok "3 MiB of console output took $((cur + old)) bytes on disk (limit 1 MiB)"
else
  not_ok "console output on disk: $cur + $old bytes, more than the 1 MiB limit"
fi
if [ "$old" -gt 0 ] && [ "$old" -le 524288 ]; then ok "the older half is in console.log.1 ($old bytes)"; else not_ok "console.log.1 has $old bytes"; fi
for f in "$CONSOLE" "$TMP/rt"; do
  m=$(mode "$f")
  if (( (8#$m & 8#077) == 0 )); then ok "$f is owner-only ($m)"; else not_ok "$f is mode $m"; fi
done
if pgrep -f "vmstream-vm run --name $NAME" >/dev/null; then
  not_ok "a console keeper is left running"
else
  ok "nothing left running"
fi

# A quiet guest: its last line reaches console.log while QEMU still runs
# (not held back in a buffer until more output comes).
cat >"$TMP/quiet-qemu" <<'FAKE'
#!/bin/bash
for a in "$@"; do case "$a" in file,id=con0,path=*) path=${a#file,id=con0,path=} ;; esac; done
echo "guest pipeline killed" >"$path"
exec sleep 30 >"$path"
FAKE
chmod +x "$TMP/quiet-qemu"
rm -rf "$TMP/rtq"
VMSTREAM_QEMU="$TMP/quiet-qemu" "$VMV" run --name "$NAME-q" --runtime-dir "$TMP/rtq" \
  --image "$TMP/img" --plugins "$TMP/noplugins" --console "$TMP/q.log" >/dev/null 2>&1 &
qpid=$!
seen=0
for _ in $(seq 100); do grep -q "guest pipeline killed" "$TMP/q.log" 2>/dev/null && { seen=1; break; }; sleep 0.05; done
if [ "$seen" = 1 ] && kill -0 "$qpid" 2>/dev/null; then
  ok "a quiet guest's last line is on disk while QEMU runs"
else
  not_ok "a quiet guest's last line did not reach the console log"
fi
kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null

# A QEMU that cannot start: the keeper must not be left waiting.
rm -rf "$TMP/rt"
printf '#!/bin/sh\nexit 1\n' >"$TMP/failing-qemu"
chmod +x "$TMP/failing-qemu"
VMSTREAM_QEMU="$TMP/failing-qemu" timeout 20 "$VMV" run --name "$NAME" --runtime-dir "$TMP/rt" \
  --image "$TMP/img" --plugins "$TMP/noplugins" --console "$CONSOLE" >/dev/null 2>&1
sleep 0.5
if pgrep -f "vmstream-vm run --name $NAME" >/dev/null; then not_ok "something waits on $TMP/rt after QEMU failed"; else ok "a QEMU that fails leaves nothing behind"; fi

# Runtime folders someone else prepared.
expect_refused ()
{
  local what=$1 dir=$2 pattern=$3 out rc
  out=$(VMSTREAM_QEMU="$TMP/fake-qemu" "$VMV" run --name "$NAME" --runtime-dir "$dir" \
    --image "$TMP/img" --plugins "$TMP/noplugins" --console "$TMP/c2.log" 2>&1)
  rc=$?
  if [ $rc -eq 4 ] && grep -Eq -- "$pattern" <<<"$out"; then
    ok "$what is refused: $out"
  else
    not_ok "$what: exit $rc (want 4): $out"
  fi
}
mkdir "$TMP/elsewhere"
ln -s "$TMP/elsewhere" "$TMP/link"
expect_refused "a symbolic link" "$TMP/link" "is a symbolic link"
mkdir "$TMP/world"
chmod 0777 "$TMP/world"
expect_refused "a world-writable folder" "$TMP/world" "can be written by group or others"
if [ "$(id -u)" = 0 ]; then
  mkdir "$TMP/theirs"
  chown 65534:65534 "$TMP/theirs"
  expect_refused "another user's folder" "$TMP/theirs" "owned by uid 65534"
else
  echo "ok - # SKIP another user's folder: needs root"
fi
mkdir "$TMP/wide"
chmod 0755 "$TMP/wide"
VMSTREAM_QEMU="$TMP/fake-qemu" "$VMV" run --name "$NAME" --runtime-dir "$TMP/wide" \
  --image "$TMP/img" --plugins "$TMP/noplugins" --console "$TMP/c3.log" >/dev/null 2>&1
if [ "$(mode "$TMP/wide")" = 700 ]; then ok "a 0755 folder of ours is made 0700"; else not_ok "a 0755 folder stays $(mode "$TMP/wide")"; fi

[ $failures -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
