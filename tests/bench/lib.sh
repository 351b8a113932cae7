# Shared by the tests/bench/run-*.sh scripts: source it after setting
#   here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# It sets repo (the source tree) and venv ($MOF_VENV, default $repo/.venv) and
# defines the helpers below. Not a script of its own.

repo="$(cd "$here/../.." && pwd)"
venv="${MOF_VENV:-$repo/.venv}"

# bench_find_mof [--no-opt] WHO [ARGS...]: sets mof to the mof binary: the last
# --mof PATH / --mof=PATH among ARGS (not looked for with --no-opt), else $MOF,
# else $repo/mof, else mof on PATH. When there is none, says so (WHO names the
# script) and exits 2. Call it first, before spending time on the venv and exports.
bench_find_mof() {
    local scan=1 how="or set MOF / pass --mof PATH" i
    if [ "${1:-}" = --no-opt ]; then scan=0; how="or set MOF"; shift; fi
    local who="$1"
    shift
    mof="${MOF:-}"
    if [ "$scan" = 1 ]; then
        local args=("$@")
        for ((i = 0; i < ${#args[@]}; i++)); do
            case "${args[i]}" in
                --mof) mof="${args[i+1]:-}" ;;
                --mof=*) mof="${args[i]#--mof=}" ;;
            esac
        done
    fi
    if [ -z "$mof" ]; then
        if [ -x "$repo/mof" ]; then mof="$repo/mof"; else mof="$(command -v mof || true)"; fi
    fi
    if [ -z "$mof" ] || ! command -v "$mof" >/dev/null; then
        echo "$who: mof binary not found (${mof:-tried $repo/mof and PATH});" \
             "build it first (make) $how" >&2
        exit 2
    fi
}

# bench_export_models [--calibrated]: sets up the venv, exports the models named
# in the names array to the models folder (tests/bench/export_models.py, which
# skips the ones already there) and sets paths to their .onnx files.
bench_export_models() {
    local n
    "$repo/tests/python/setup-venv.sh" "$venv"
    "$venv/bin/python" "$here/export_models.py" "$@" "$models" "${names[@]}"
    paths=()
    for n in "${names[@]}"; do paths+=("$models/$n.onnx"); done
}
