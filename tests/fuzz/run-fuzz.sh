#!/bin/sh
# run-fuzz.sh FUZZER SEED_CORPUS [DICT]: a time-bounded libFuzzer run (with
# the libFuzzer dictionary DICT when given). New inputs go
# to a scratch corpus beside the build, never into the source tree; a crash
# leaves its input in tests/fuzz/artifacts/ of the build and fails the test.
# A dictionary tests/fuzz/NAME.dict (NAME: the seed folder's name) is passed
# with -dict= when there is one.
set -eu
fuzzer=$1
seeds=$2
dict=${3:+-dict=$3}
secs=${VMSTREAM_FUZZ_SECONDS:-60}
work="$(dirname "$fuzzer")/$(basename "$fuzzer")-corpus"
artifacts="$(dirname "$fuzzer")/artifacts/"
mkdir -p "$work" "$artifacts"
dict="$(dirname "$0")/$(basename "$seeds").dict"
set --
if [ -f "$dict" ]; then
  set -- -dict="$dict"
fi
export LSAN_OPTIONS="suppressions=$(dirname "$0")/lsan-fuzz.supp:print_suppressions=0:fast_unwind_on_malloc=0:malloc_context_size=100"
# libFuzzer exits 77 on a finding by default, which meson reads as "skipped".
exec "$fuzzer" -max_total_time="$secs" -print_final_stats=1 -error_exitcode=1 -timeout_exitcode=1 \
  -artifact_prefix="$artifacts" -max_len=65536 -rss_limit_mb=2048 "$@" "$work" "$seeds"
