#!/bin/sh
# run-libfuzzer.sh [SECONDS]: fuzzes the three harnesses with libFuzzer (coverage
# guided), SECONDS each (default 60). It configures a clang build tree (default
# build/libfuzzer under the source tree; $MOF_FUZZ_BUILD overrides) with libmof and
# the plugins compiled with -fsanitize=fuzzer-no-link,address,undefined, builds, and
# runs `make fuzz` there. Needs clang with libFuzzer (Debian: clang and
# libclang-rt-14-dev). The corpus grows in <build>/tests/fuzz/libfuzzer-work/NAME/corpus
# (kept between runs); crashes are written to .../NAME/artifacts/ and reproduce with
# `<build>/tests/fuzz/libfuzzer_NAME FILE` or, without libFuzzer,
# `tests/fuzz/fuzz_NAME FILE` of any sanitizer build.
#
# run-libfuzzer.sh --run NAME SECONDS: runs one harness in the current build tree
# (what `make fuzz` calls).
set -eu
srcdir=$(cd "$(dirname "$0")/../.." && pwd)

if [ "${1:-}" = --run ]; then
    name=$2
    seconds=$3
    work=tests/fuzz/libfuzzer-work/$name
    mkdir -p "$work/corpus" "$work/seeds" "$work/artifacts"
    # libFuzzer reads every seed folder and writes new inputs to the first one only.
    for s in $(top_srcdir=$srcdir "$srcdir/tests/fuzz/run-driver.sh" --seeds "$name"); do
        if [ -d "$s" ]; then
            cp "$s"/* "$work/seeds/" 2>/dev/null || true
        else
            cp "$s" "$work/seeds/$(echo "$s" | tr '/' '_')"
        fi
    done
    echo "== libfuzzer_$name: $seconds s"
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"
    UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"
    export ASAN_OPTIONS UBSAN_OPTIONS
    exec "./tests/fuzz/libfuzzer_$name" "$work/corpus" "$work/seeds" \
        -dict="$srcdir/tests/fuzz/$name.dict" -max_total_time="$seconds" -timeout=25 \
        -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$work/artifacts/" -print_final_stats=1
fi

seconds=${1:-60}
cc=${CC:-clang}
if ! command -v "$cc" >/dev/null; then
    echo "run-libfuzzer.sh: $cc not found (install clang and libclang-rt-14-dev)" >&2
    exit 1
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
    >"$probe/p.c"
if ! "$cc" -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
    echo "run-libfuzzer.sh: $cc cannot link with -fsanitize=fuzzer:" >&2
    cat "$probe/err" >&2
    echo "(Debian: apt-get install libclang-rt-14-dev)" >&2
    exit 1
fi

build=${MOF_FUZZ_BUILD:-$srcdir/build/libfuzzer}
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ]; then
    [ -x "$srcdir/configure" ] || (cd "$srcdir" && autoreconf -fi)
    "$srcdir/configure" -q CC="$cc" --enable-sanitizers \
        CFLAGS="-g -O1 -fsanitize=fuzzer-no-link"
fi
jobs=$(nproc 2>/dev/null || echo 2)
make -j"$jobs" libmof.la >/dev/null
make fuzz FUZZ_SECONDS="$seconds"
