# lib.sh: helpers sourced by the tests of the mof command line (tests/cli/*.sh).
#
# `make check` sets top_srcdir, top_builddir (absolute) and MOF_PLUGIN_PATH; run by
# hand from a build folder, the script finds the source tree from its own path.
# Each check prints "ok: ..." or "FAIL: ..."; finish exits 1 when any failed. Exit
# status 77 means skipped, 99 a broken test setup (automake's conventions).

set -u

cli_dir=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$cli_dir/../.." && pwd)}"
: "${top_builddir:=$(pwd)}"
MOF="$top_builddir/mof"
MODEL="$top_srcdir/examples/models/tiny-cnn.onnx"
PIPELINES="$top_srcdir/examples/pipelines"

if [ ! -x "$MOF" ]; then
    echo "error: $MOF is not built"
    exit 99
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mof-cli.XXXXXX") || exit 99
trap 'rm -rf "$TMP"' EXIT

checks=0
failures=0

pass() {
    checks=$((checks + 1))
    echo "ok: $*"
}

fail() {
    checks=$((checks + 1))
    failures=$((failures + 1))
    echo "FAIL: $*"
}

# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
    desc=$1
    shift
    if "$@"; then
        pass "$desc"
    else
        fail "$desc"
    fi
}

# need_cpu_backend: skips the script (77) when this mof has no cpu backend.
need_cpu_backend() {
    if ! "$MOF" backends 2>/dev/null | grep -q '^ *cpu'; then
        echo "skip: this mof has no cpu backend"
        exit 77
    fi
}

# w NAME DIM...: a float initializer in the ONNX text syntax, deterministic values in
# [-0.5, 0.5) scaled by 1/sqrt(fan-in) (the product of the dims after the first).
w() {
    local name=$1
    shift
    local dims n=1 fan=1 d i
    dims=$(IFS=,; echo "$*")
    for d in "$@"; do n=$((n * d)); done
    [ $# -gt 1 ] && for d in "${@:2}"; do fan=$((fan * d)); done
    printf 'float[%s] %s = {' "$dims" "$name"
    awk -v n="$n" -v fan="$fan" -v seed="${#name}$n" 'BEGIN {
        x = seed % 9973 + 1; s = 1 / sqrt(fan)
        for (i = 0; i < n; i++) {
            x = (x * 16807) % 2147483647
            printf "%s%.6g", (i ? ", " : ""), ((x % 10000) / 10000 - 0.5) * s * 2
        }
    }'
    printf '}'
}

# Shows what the last mof_run printed, to explain a failure.
show_output() {
    sed 's/^/    stdout: /' "$TMP/stdout"
    sed 's/^/    stderr: /' "$TMP/stderr"
}

# mof_run ARG...: runs mof; its output goes to $TMP/stdout and $TMP/stderr, its exit
# status to $status.
mof_run() {
    status=0
    "$MOF" "$@" >"$TMP/stdout" 2>"$TMP/stderr" || status=$?
}

# expect_status WANT DESCRIPTION ARG...: runs mof ARG... and checks its exit status.
expect_status() {
    want=$1
    desc=$2
    shift 2
    mof_run "$@"
    if [ "$status" -eq "$want" ]; then
        pass "$desc (exit $want)"
        return 0
    fi
    fail "$desc: exit status $status, expected $want"
    show_output
    return 1
}

# expect_match FILE REGEX DESCRIPTION: FILE (stdout or stderr of the last run, or a
# path) has a line matching the extended regular expression.
expect_match() {
    f=$1
    case $f in stdout | stderr) f="$TMP/$f" ;; esac
    if grep -Eq -- "$2" "$f"; then
        pass "$3"
    else
        fail "$3: no line matches /$2/ in"
        sed 's/^/    | /' "$f"
    fi
}

# expect_no_match FILE REGEX DESCRIPTION
expect_no_match() {
    f=$1
    case $f in stdout | stderr) f="$TMP/$f" ;; esac
    if grep -Eq -- "$2" "$f"; then
        fail "$3: a line matches /$2/ in"
        sed 's/^/    | /' "$f"
    else
        pass "$3"
    fi
}

# expect_one_line_error REGEX DESCRIPTION: the last run printed exactly one line on
# stderr, matching REGEX.
expect_one_line_error() {
    n=$(wc -l <"$TMP/stderr")
    if [ "$n" -eq 1 ] && grep -Eq -- "$1" "$TMP/stderr"; then
        pass "$2: $(cat "$TMP/stderr")"
    else
        fail "$2: expected one line matching /$1/ on stderr, got $n:"
        sed 's/^/    | /' "$TMP/stderr"
    fi
}

# expect_error_lines REGEX DESCRIPTION: the last run printed at least one line on
# stderr, and every line matches REGEX (a file with several errors reports them all).
expect_error_lines() {
    n=$(wc -l <"$TMP/stderr")
    if [ "$n" -ge 1 ] && ! grep -Evq -- "$1" "$TMP/stderr"; then
        pass "$2: $(head -n 1 "$TMP/stderr")"
    else
        fail "$2: expected lines matching /$1/ on stderr, got $n:"
        sed 's/^/    | /' "$TMP/stderr"
    fi
}

# expect_equal GOT WANT DESCRIPTION
expect_equal() {
    if [ "$1" = "$2" ]; then
        pass "$3 ($1)"
    else
        fail "$3: got '$1', expected '$2'"
    fi
}

# info_field MODEL FIELD: the value of "FIELD: value" in `mof info MODEL`, first word.
info_field() {
    "$MOF" info "$1" 2>/dev/null | sed -n "s/^$2: *\([^ ,]*\).*/\1/p"
}

finish() {
    echo "$checks checks, $failures failed"
    [ "$failures" -eq 0 ]
    exit $?
}
