#!/usr/bin/env bash
# cpu-aarch64.sh: the cpu backend's portable artifacts on ARM. Each artifact is emitted
# with isa=baseline and a pool of 2 threads, cross-compiled by its own Makefile
# (CC=aarch64-linux-gnu-gcc, -Wall -Wextra -Werror), run under qemu-aarch64 and
# compared with the reference interpreter on this machine (`mof exec --expect`):
#  - tiny-cnn (float, weights in a blob file), on its stored inputs;
#  - the digits CNN (float, embedded weights, a batch of 4), on seeded random inputs;
#  - tiny-cnn quantized by quantize-static (QOperator: the int8 kernels' plain C path).
# Skipped (77) without the cross compiler (Debian: gcc-aarch64-linux-gnu) or qemu-user.
. "$(dirname "$0")/lib.sh"

cross=aarch64-linux-gnu-gcc
sysroot=/usr/aarch64-linux-gnu
if ! command -v "$cross" >/dev/null 2>&1 || ! command -v qemu-aarch64 >/dev/null 2>&1 ||
        ! command -v make >/dev/null 2>&1; then
    echo "skip: needs $cross and qemu-aarch64 (Debian: gcc-aarch64-linux-gnu qemu-user)"
    exit 77
fi
need_cpu_backend
WERR="-O2 -std=c99 -Wall -Wextra -Werror"

# arm NAME MODEL RTOL ATOL INPUT-ARGS...: emit, cross-build, run under qemu with 1 and
# 2 threads, compare with mof exec.
arm() {
    local name=$1 model=$2 rtol=$3 atol=$4 art="$TMP/$1/model" t
    shift 4
    rm -rf "$TMP/$name"
    mof_run run -q "$top_srcdir/examples/pipelines/cpu.xml" "$model" -o "$TMP/$name" \
        --set cpu.prefix=m --set cpu.isa=baseline --set cpu.threads=2 "${EXTRA_SET[@]}"
    [ "$status" -eq 0 ] || { show_output; return 1; }
    make -s -C "$art" CC="$cross" AR=aarch64-linux-gnu-ar CFLAGS="$WERR" \
        >"$TMP/$name.make" 2>&1 || { cat "$TMP/$name.make"; return 1; }
    if command -v file >/dev/null 2>&1 && ! file "$art/m_main" | grep -q aarch64; then
        echo "m_main is not an AArch64 program: $(file "$art/m_main")"
        return 1
    fi
    for t in 1 2; do
        rm -rf "$TMP/$name-out" "$TMP/$name-in"
        mkdir -p "$TMP/$name-out" "$TMP/$name-in"
        (cd "$art" && qemu-aarch64 -L "$sysroot" ./m_main -n 1 -t "$t" -o "$TMP/$name-out" "$@") \
            >"$TMP/$name.run" 2>&1 || { cat "$TMP/$name.run"; return 1; }
        local inputs="$TMP/$name-in"
        [ "$1" = -i ] && inputs=$2
        "$MOF" exec -q "$model" --inputs="$inputs" --expect="$TMP/$name-out" \
            --rtol="$rtol" --atol="$atol" >"$TMP/$name.cmp" 2>&1 ||
            { echo "$t thread(s):"; cat "$TMP/$name.cmp"; return 1; }
    done
}

EXTRA_SET=(--set cpu.weights=blob)
check "tiny-cnn on AArch64 (blob weights) = mof exec" \
    arm tiny "$MODEL" 1e-4 1e-5 -i "$top_srcdir/examples/models/tiny-cnn-inputs"

EXTRA_SET=(--set cpu.weights=embed --input-shape input=4,1,8,8)
check "digits CNN on AArch64 = mof exec" \
    arm digits "$top_srcdir/examples/digits/digits-cnn.onnx" 1e-4 1e-5 -r 5 -s "$TMP/digits-in"

if "$MOF" passes 2>/dev/null | grep -q '^ *quantize-static'; then
    cat > "$TMP/q.xml" <<XML
<pipeline>
  <pass name="fold-constants"/>
  <pass name="fuse-conv-bn"/>
  <pass name="quantize-static" calibration="random:8" format="qoperator" report-samples="0"/>
  <pass name="infer-shapes"/>
</pipeline>
XML
    check "quantize-static (QOperator) of tiny-cnn" \
        "$MOF" run -q "$TMP/q.xml" "$MODEL" -o "$TMP/tiny-q.onnx"
    EXTRA_SET=()
    check "int8 tiny-cnn on AArch64 = mof exec" \
        arm tinyq "$TMP/tiny-q.onnx" 1e-4 1e-5 -i "$top_srcdir/examples/models/tiny-cnn-inputs"
    check "int8 tiny-cnn on AArch64 runs the integer kernels" \
        grep -q '_i8_conv_run' "$TMP/tinyq/model/m.c"
else
    echo "note: no quantize-static pass loaded; the int8 check is skipped"
fi

finish
