#!/bin/sh
# run-driver.sh NAME: runs the fuzz harness tests/fuzz/fuzz_NAME (NAME: onnx, text,
# pipeline) of the build tree with its driver: its seeds once each, then mutations of
# them for $MOF_FUZZ_SECONDS seconds (default 15; 0 runs only the seeds), seeded with
# $MOF_FUZZ_SEED (default 1, so that make check runs the same inputs each time, as
# far as the time allows; "random" picks a new one, printed for replay). A failing input is saved under
# $MOF_FUZZ_ARTIFACTS (default tests/fuzz of the build tree) and its path printed.
#
# run-driver.sh --seeds NAME prints the seed files and folders of a harness, one per
# line (run-libfuzzer.sh uses the same seeds).
set -u
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-.}
testdata=${MOF_ONNX_TESTDATA:-/usr/share/libonnx-testdata/data}

seeds() {
    echo "$srcdir/tests/fuzz/corpus/$1"
    case $1 in
    onnx)
        echo "$srcdir/examples/models/tiny-cnn.onnx"
        # ONNX node and model tests: subgraphs, sequences, optionals, many attributes.
        while read -r rel; do
            case $rel in ''|'#'*) continue ;; esac
            [ -f "$testdata/$rel" ] && echo "$testdata/$rel"
        done <"$srcdir/tests/fuzz/onnx-testdata.list"
        ;;
    pipeline)
        echo "$srcdir/examples/pipelines"
        echo "$srcdir/tests/data/pipelines"
        echo "$srcdir/examples/custom-pass/pipeline.xml"
        ;;
    esac
}

if [ "${1:-}" = --seeds ]; then
    seeds "$2"
    exit 0
fi
name=${1:?usage: run-driver.sh NAME}
prog=$builddir/tests/fuzz/fuzz_$name
[ -x "$prog" ] || { echo "run-driver.sh: $prog is not built"; exit 99; }
seconds=${MOF_FUZZ_SECONDS:-15}
seed=${MOF_FUZZ_SEED:-1}
[ "$seed" = random ] && seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
artifacts=${MOF_FUZZ_ARTIFACTS:-$builddir/tests/fuzz}
mkdir -p "$artifacts"
# Sanitizer reports end the run (the driver saves the input first); a huge allocation
# from a small input is a bug, not something to wait for.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}max_allocation_size_mb=2048:allocator_may_return_null=0"
UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS UBSAN_OPTIONS

echo "fuzz_$name: ${seconds} s, seed $seed (replay: MOF_FUZZ_SEED=$seed)"
# shellcheck disable=SC2046 # one seed path per line, without spaces
exec "$prog" -seconds "$seconds" -seed "$seed" -dict "$srcdir/tests/fuzz/$name.dict" \
    -artifacts "$artifacts" $(seeds "$name")
