#!/usr/bin/env bash
# cpu.sh: the cpu backend end to end: emit (examples/pipelines/cpu.xml), build the
# artifact with its own Makefile (gcc, and clang when installed, -Wall -Wextra
# -Werror), run it, and compare its outputs with the reference interpreter
# (`mof exec --expect`, 1e-5 + 1e-4 * |ref|). Also: the arena bound stated in the
# header, two artifacts with distinct prefixes linked into one program, a blob-weights
# artifact with a thread pool, one build under ASan/UBSan, and the refusals (an
# unsupported op, a symbolic dim) that leave nothing in the output folder.
#
# The benchmark architectures (ResNet-18, MobileNetV2, SqueezeNet, the transformer
# encoder) need Python to export them once (tests/bench/export_models.py --calibrated,
# cached like crosscheck.sh's: $MOF_CROSSCHECK_CACHE or
# $top_builddir/tests/crosscheck-models); without Python only they are skipped.
. "$(dirname "$0")/lib.sh"

if ! command -v make >/dev/null 2>&1 || ! command -v cc >/dev/null 2>&1; then
    echo "skip: no make or cc to build the artifacts"
    exit 77
fi
pipeline="$top_srcdir/examples/pipelines/cpu.xml"
WERR="-O2 -std=c99 -Wall -Wextra -Werror"

# emit NAME MODEL [--set ...]: emits into $TMP/NAME (the folder `model` in it).
emit() {
    local name=$1 model=$2
    shift 2
    rm -rf "$TMP/$name"
    mof_run run -q "$pipeline" "$model" -o "$TMP/$name" "$@"
    [ "$status" -eq 0 ] || { show_output; return 1; }
}

# build_run NAME PREFIX INPUT-ARGS...: builds and runs, outputs into $TMP/NAME/out.
build_run() {
    local name=$1 prefix=$2 dir="$TMP/$1/model"
    shift 2
    make -s -C "$dir" CFLAGS="$WERR" >"$TMP/$name.make" 2>&1 || { cat "$TMP/$name.make"; return 1; }
    mkdir -p "$TMP/$name/out" "$TMP/$name/in"
    (cd "$dir" && "./${prefix}_main" -n 3 -o "$TMP/$name/out" "$@") >"$TMP/$name.run" 2>&1 ||
        { cat "$TMP/$name.run"; return 1; }
}

# same MODEL INDIR OUTDIR: the artifact's outputs match the interpreter's.
same() {
    "$MOF" exec -q "$1" --inputs "$2" --expect "$3" >"$TMP/exec.out" 2>&1 ||
        { cat "$TMP/exec.out"; return 1; }
}

# arena_ok HEADER PREFIX: activations <= 1.25 x the peak of live activations.
arena_ok() {
    local up act peak
    up=$(echo "$2" | tr a-z A-Z)
    act=$(sed -n "s/^#define ${up}_ARENA_ACTIVATIONS \([0-9]*\)u.*/\1/p" "$1")
    peak=$(sed -n "s/^#define ${up}_PEAK_LIVE \([0-9]*\)u.*/\1/p" "$1")
    [ -n "$act" ] && [ -n "$peak" ] && [ $((act * 4)) -le $((peak * 5)) ]
}

# --- tiny-cnn: embedded weights, one thread
tiny="$top_srcdir/examples/models/tiny-cnn.onnx"
check "tiny-cnn emits" emit tiny "$tiny" --set cpu.prefix=tiny --set cpu.weights=embed
check "tiny-cnn builds (-Werror) and runs" build_run tiny tiny -i "$top_srcdir/examples/models/tiny-cnn-inputs"
check "tiny-cnn matches the interpreter" same "$tiny" "$top_srcdir/examples/models/tiny-cnn-inputs" "$TMP/tiny/out"
check "tiny-cnn header states the arena bound" arena_ok "$TMP/tiny/model/tiny.h" tiny
check "the example prints the median latency" grep -q "median latency" "$TMP/tiny.run"

# --- the same model, blob weights, a pool of 2 threads, another prefix
check "tiny-cnn emits (blob, threads=2)" emit tiny2 "$tiny" --set cpu.prefix=tiny2 \
    --set cpu.weights=blob --set cpu.threads=2
check "blob weights are a file" test -f "$TMP/tiny2/model/tiny2.weights"
run_blob() {
    make -s -C "$TMP/tiny2/model" CFLAGS="$WERR" >"$TMP/tiny2.make" 2>&1 || { cat "$TMP/tiny2.make"; return 1; }
    mkdir -p "$TMP/tiny2/out"
    (cd "$TMP/tiny2/model" && ./tiny2_main -n 3 -i "$top_srcdir/examples/models/tiny-cnn-inputs" -o "$TMP/tiny2/out") >/dev/null
}
check "blob artifact builds and runs with 2 threads" run_blob
check "blob artifact matches the interpreter" same "$tiny" "$top_srcdir/examples/models/tiny-cnn-inputs" "$TMP/tiny2/out"
bad_weights() {
    cp "$TMP/tiny2/model/tiny2.weights" "$TMP/bad.weights"
    printf 'x' | dd of="$TMP/bad.weights" bs=1 seek=100 conv=notrunc 2>/dev/null
    (cd "$TMP/tiny2/model" && ./tiny2_main -n 0 -r 0 -w "$TMP/bad.weights") >"$TMP/bad.out" 2>&1 && return 1
    grep -q "not this model's" "$TMP/bad.out"
}
check "a corrupted weights file is refused with a message" bad_weights

# --- two prefixes in one program
two_models() {
    cat > "$TMP/both.c" <<'CEOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tiny.h"
#include "tiny2.h"
int main(void)
{
    float *x = malloc(tiny_inputs[0].nbytes), *y1 = malloc(tiny_outputs[0].nbytes);
    float *y2 = malloc(tiny2_outputs[0].nbytes);
    const void *in[1];
    void *o1[1], *o2[1];
    tiny_model *a; tiny2_model *b; tiny2_config cfg;
    size_t i, n = tiny_inputs[0].nbytes / sizeof *x;
    if (!x || !y1 || !y2 || tiny_outputs[0].nbytes != tiny2_outputs[0].nbytes) return 1;
    in[0] = x; o1[0] = y1; o2[0] = y2;
    for (i = 0; i < n; i++) x[i] = (float)(i % 7) / 7.0f;
    memset(&cfg, 0, sizeof cfg);
    cfg.weights_path = getenv("W2");
    if (tiny_create(&a, NULL) || tiny2_create(&b, &cfg)) return 1;
    if (tiny_run(a, in, o1) || tiny2_run(b, in, o2)) return 1;
    for (i = 0; i < tiny_outputs[0].nbytes / sizeof *y1; i++)
        if (y1[i] != y2[i]) { printf("differ at %zu\n", i); return 1; }
    tiny_destroy(a); tiny2_destroy(b);
    free(x); free(y1); free(y2);
    return 0;
}
CEOF
    cc -O2 -std=c99 -Wall -Wextra -Werror -I"$TMP/tiny/model" -I"$TMP/tiny2/model" -o "$TMP/both" \
        "$TMP/both.c" "$TMP/tiny/model/libtiny.a" "$TMP/tiny2/model/libtiny2.a" -pthread -lm &&
        W2="$TMP/tiny2/model/tiny2.weights" "$TMP/both"
}
check "two artifacts with distinct prefixes link into one program" two_models

# --- depthwise convolutions on the portable kernels: strides 1 and 2 (the flat
# phase-plane path), dilations, asymmetric pads, a 7x1 kernel, no padding, a residual
# and Clip in the epilogue, planes large enough to go in bands (X2, X3), stride 3 (the
# row path); against the interpreter.
cat > "$TMP/dw.onnxtxt" <<TEOF
<ir_version: 8, opset_import: ["" : 13]>
main (float[1,8,40,37] X, float[1,2,130,97] X2, float[1,4,150,61] X3)
  => (float[1,8,40,37] Y1, float[1,8,20,18] Y2, float[1,8,40,37] Y3, float[1,8,20,19] Y4,
      float[1,8,40,37] Y5, float[1,2,130,97] Y6, float[1,4,75,31] Y7, float[1,8,40,37] Y8,
      float[1,8,13,12] Y9, float[1,8,38,35] Y10)
   <$(w W1 8 1 3 3), $(w B1 8), $(w W3 8 1 5 5), $(w W5 8 1 7 1), $(w W6 2 1 3 3),
    $(w W7 4 1 3 3), $(w B7 4), float lo = {0}, float hi = {6}>
{
  c1 = Conv <group = 8, pads = [1, 1, 1, 1]> (X, W1, B1)
  Y1 = Relu (c1)
  Y2 = Conv <group = 8, strides = [2, 2], pads = [1, 1, 0, 0]> (X, W1)
  Y3 = Conv <group = 8, dilations = [2, 2], pads = [4, 4, 4, 4]> (X, W3, B1)
  Y4 = Conv <group = 8, strides = [2, 2], dilations = [2, 2], pads = [2, 2, 2, 2]> (X, W1)
  Y5 = Conv <group = 8, pads = [3, 0, 3, 0]> (X, W5)
  Y6 = Conv <group = 2, pads = [1, 1, 1, 1]> (X2, W6)
  Y7 = Conv <group = 4, strides = [2, 2], pads = [1, 1, 1, 1]> (X3, W7, B7)
  c8 = Conv <group = 8, pads = [1, 1, 1, 1]> (X, W1)
  s8 = Add (c8, X)
  Y8 = Clip (s8, lo, hi)
  Y9 = Conv <group = 8, strides = [3, 3]> (X, W1, B1)
  Y10 = Conv <group = 8> (X, W1)
}
TEOF
cat > "$TMP/dw.xml" <<XML
<pipeline>
  <pass name="infer-shapes"/>
  <backend name="cpu" output="model" prefix="dw" kernels="portable" threads="2"/>
</pipeline>
XML
depthwise() {
    local t
    rm -rf "$TMP/dw"
    mof_run run -q "$TMP/dw.xml" "$TMP/dw.onnxtxt" -o "$TMP/dw"
    [ "$status" -eq 0 ] || { show_output; return 1; }
    make -s -C "$TMP/dw/model" CFLAGS="$WERR" >"$TMP/dw.make" 2>&1 || { cat "$TMP/dw.make"; return 1; }
    for t in 1 2; do
        rm -rf "$TMP/dw-in" "$TMP/dw-out" && mkdir -p "$TMP/dw-in" "$TMP/dw-out"
        (cd "$TMP/dw/model" && ./dw_main -n 1 -t "$t" -r 4 -s "$TMP/dw-in" -o "$TMP/dw-out") \
            >"$TMP/dw.run" 2>&1 || { cat "$TMP/dw.run"; return 1; }
        same "$TMP/dw.onnxtxt" "$TMP/dw-in" "$TMP/dw-out" || return 1
    done
}
check "depthwise convolutions (strides 1, 2, 3, dilations, bands) match the interpreter" depthwise

# --- the per-node profile (tiny2: a copy, so the other checks keep their build)
profile() {
    local d="$TMP/prof"
    rm -rf "$d" && cp -r "$TMP/tiny2/model" "$d" && make -s -C "$d" clean >/dev/null || return 1
    make -s -C "$d" CFLAGS="$WERR" >"$TMP/prof.make" 2>&1 || { cat "$TMP/prof.make"; return 1; }
    # without PROFILE=1, -p is refused with the way to get it
    (cd "$d" && ./tiny2_main -n 3 -r 1 -p) >"$TMP/prof.out" 2>&1 && { echo "-p accepted"; return 1; }
    grep -q "PROFILE=1" "$TMP/prof.out" || { cat "$TMP/prof.out"; return 1; }
    make -s -C "$d" clean >/dev/null &&
        make -s -C "$d" PROFILE=1 CFLAGS="$WERR" >"$TMP/prof.make" 2>&1 || { cat "$TMP/prof.make"; return 1; }
    (cd "$d" && ./tiny2_main -n 20 -r 1 -p) >"$TMP/prof.out" 2>&1 || { cat "$TMP/prof.out"; return 1; }
    # one entry per emitted group, each node of the graph named, shares adding up to 100%
    local n entries
    n=$(sed -n 's/^#define TINY2_PROFILE_ENTRIES \([0-9]*\)$/\1/p' "$d/tiny2.h")
    entries=$(grep -c '  #[0-9]* portable: ' "$TMP/prof.out")
    [ -n "$n" ] && [ "$n" -gt 0 ] && [ "$entries" -eq "$n" ] ||
        { echo "$entries entries, header says $n"; cat "$TMP/prof.out"; return 1; }
    for node in conv1 conv2 pool1 fc; do
        grep -q "portable: [A-Za-z]* $node" "$TMP/prof.out" || { echo "no $node"; cat "$TMP/prof.out"; return 1; }
    done
    tail -1 "$TMP/prof.out" | awk '{ exit !($3 > 99.8 && $3 < 100.2) }' ||
        { echo "cumulative share does not end at 100%"; cat "$TMP/prof.out"; return 1; }
}
check "PROFILE=1 builds time each node (-p), and -p without it says how" profile

# --- sanitizers, once
asan() {
    local d="$TMP/tiny2/model"
    make -s -C "$d" clean >/dev/null &&
        make -s -C "$d" CFLAGS="-O1 -g -std=c99 -Wall -Wextra -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
            LDFLAGS="-fsanitize=address,undefined" >"$TMP/asan.make" 2>&1 || { cat "$TMP/asan.make"; return 1; }
    mkdir -p "$TMP/asan-out"
    (cd "$d" && ASAN_OPTIONS=detect_leaks=1 ./tiny2_main -n 2 -i "$top_srcdir/examples/models/tiny-cnn-inputs" -o "$TMP/asan-out") ||
        return 1
    same "$tiny" "$top_srcdir/examples/models/tiny-cnn-inputs" "$TMP/asan-out"
}
check "the artifact runs clean under ASan/UBSan" asan

# --- clang
if command -v clang >/dev/null 2>&1; then
    clang_build() {
        make -s -C "$TMP/tiny/model" clean >/dev/null &&
            make -s -C "$TMP/tiny/model" CC=clang CFLAGS="$WERR" >"$TMP/clang.make" 2>&1 ||
            { cat "$TMP/clang.make"; return 1; }
    }
    check "clang builds the artifact (-Wall -Wextra -Werror)" clang_build
else
    echo "note: clang is not installed; the clang build is not checked"
fi

# --- refusals: nothing written
cat > "$TMP/bad.onnxtxt" <<'TEOF'
<ir_version: 8, opset_import: ["" : 13]>
main (float[2,3] x) => (float[2,3] y) {
   t = Relu (x)
   y = Hardmax <axis = 1> (t)
}
TEOF
refuse_op() {
    rm -rf "$TMP/badout"
    mof_run run "$pipeline" "$TMP/bad.onnxtxt" -o "$TMP/badout"
    [ "$status" -ne 0 ] && grep -q "Hardmax" "$TMP/stderr" && [ ! -e "$TMP/badout" ]
}
check "an unsupported op fails the emit, naming it, and writes nothing" refuse_op
cat > "$TMP/sym.onnxtxt" <<'TEOF'
<ir_version: 8, opset_import: ["" : 13]>
main (float[N,3] x) => (float[N,3] y) {
   y = Relu (x)
}
TEOF
refuse_sym() {
    rm -rf "$TMP/symout"
    mof_run run "$pipeline" "$TMP/sym.onnxtxt" -o "$TMP/symout"
    [ "$status" -ne 0 ] && grep -q "input-shape" "$TMP/stderr" && grep -q "'x'" "$TMP/stderr" &&
        [ ! -e "$TMP/symout/model" ]
}
check "a symbolic dim is refused, naming the input and --input-shape" refuse_sym
pinned() {
    emit sym "$TMP/sym.onnxtxt" --input-shape x=4,3 && build_run sym model -r 3 -s "$TMP/sym/in" &&
        same "$TMP/sym.onnxtxt" "$TMP/sym/in" "$TMP/sym/out"
}
check "with --input-shape the same model compiles and matches" pinned

# --- the digits CNN and the benchmark architectures
model_check() {
    local name=$1 model=$2
    shift 2
    emit "$name" "$model" --set cpu.prefix=m "$@" && build_run "$name" m -r 1 -s "$TMP/$name/in" &&
        same "$model" "$TMP/$name/in" "$TMP/$name/out" && arena_ok "$TMP/$name/model/m.h" m
}
digits="$top_srcdir/examples/digits/digits-cnn.onnx"
if [ -f "$digits" ]; then
    check "digits CNN matches the interpreter" model_check digits "$digits" --input-shape input=4,1,8,8
else
    echo "note: $digits is absent; not checked"
fi

py=${MOF_PYTHON:-}
[ -z "$py" ] && [ -x "$top_srcdir/.venv/bin/python" ] && py="$top_srcdir/.venv/bin/python"
models="${MOF_CROSSCHECK_CACHE:-$top_builddir/tests/crosscheck-models}"
for m in resnet18 mobilenet_v2 squeezenet1_0 transformer_encoder; do
    if [ ! -f "$models/$m.onnx" ]; then
        if [ -n "$py" ] && "$py" -c 'import torch, onnx' 2>/dev/null; then
            "$py" "$top_srcdir/tests/bench/export_models.py" --calibrated "$models" "$m" >/dev/null 2>&1
        fi
    fi
    if [ -f "$models/$m.onnx" ]; then
        check "$m matches the interpreter" model_check "$m" "$models/$m.onnx"
        rm -rf "$TMP/$m"
    else
        echo "note: skipped $m (no Python with torch to export it)"
    fi
done
finish
