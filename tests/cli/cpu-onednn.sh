#!/usr/bin/env bash
# cpu-onednn.sh: the cpu backend with kernels=onednn, end to end. Each model goes
# through examples/pipelines/optimize.xml's passes plus the cpu backend (kernels=onednn),
# the artifact is built with its Makefile and run on the model's inputs, and its
# outputs must match `mof exec` (the reference interpreter) within 1e-4 relative
# (+ 1e-5 absolute). Models: the tiny CNN, then the benchmark architectures
# (ResNet-18, MobileNetV2, SqueezeNet, the transformer encoder) exported by
# tests/bench/export_models.py --calibrated when a Python with torch is found
# ($MOF_PYTHON, else $top_srcdir/.venv/bin/python; cached as in crosscheck.sh).
# Skips (77) when oneDNN's headers (libdnnl-dev) or a C compiler are missing.
. "$(dirname "$0")/lib.sh"

cc=${CC:-cc}
if ! printf '#include <oneapi/dnnl/dnnl.h>\nint main(void){return dnnl_version()==0;}\n' |
        "$cc" -x c - -o "$TMP/dnnl-probe" -ldnnl >/dev/null 2>&1; then
    echo "skip: no oneDNN to build against (install libdnnl-dev)"
    exit 77
fi
need_cpu_backend

pipeline="$top_srcdir/examples/pipelines/cpu.xml"

# model_check NAME MODEL INPUTDIR|random [PIPELINE [NODE...]]: emit with kernels=onednn,
# build, run with 1 and 2 threads, compare with mof exec (random: the artifact makes
# seeded inputs and saves them for mof exec). Each NODE (a node name) must have been
# computed by oneDNN: the emitter names provider, op and node before each group.
model_check() {
    local name=$1 model=$2 inputs=$3 pl=${4:-$pipeline} art="$TMP/$1/model" node
    shift 4 2>/dev/null || shift $#
    rm -rf "$TMP/$name"
    if ! "$MOF" run -q "$pl" "$model" -o "$TMP/$name" --set cpu.prefix=m \
            --set cpu.kernels=onednn --set cpu.threads=2 > "$TMP/$name.run" 2>&1; then
        sed 's/^/    | /' "$TMP/$name.run"
        fail "$name: mof run with the cpu backend (kernels=onednn)"
        return
    fi
    if ! grep -q onednn "$art/m.c"; then
        fail "$name: no node of the artifact runs on oneDNN"
        return
    fi
    for node in "$@"; do
        if ! grep -Eq "^ *\{ /\* onednn: [A-Za-z]+ $node( |\$)" "$art/m.c"; then
            grep -E '^ *\{ /\* ' "$art/m.c" | sed 's/^/    | /'
            fail "$name: node $node is not computed by oneDNN"
            return
        fi
    done
    if ! make -C "$art" CFLAGS="-O2 -std=c99 -Wall -Wextra -Werror" > "$TMP/$name.make" 2>&1; then
        tail -20 "$TMP/$name.make" | sed 's/^/    | /'
        fail "$name: the artifact does not build (-Wall -Wextra -Werror)"
        return
    fi
    mkdir -p "$TMP/$name-out"
    local t src=(-i "$inputs")
    if [ "$inputs" = random ]; then
        inputs="$TMP/$name-in"
        mkdir -p "$inputs"
        src=(-r 1 -s "$inputs")
    fi
    for t in 1 2; do
        rm -f "$TMP/$name-out"/*
        # (in the artifact's folder: a blob artifact reads m.weights from there)
        if ! (cd "$art" && ./m_main -n 1 -t "$t" "${src[@]}" -o "$TMP/$name-out") \
                > "$TMP/$name.main" 2>&1; then
            sed 's/^/    | /' "$TMP/$name.main"
            fail "$name: the artifact does not run with $t thread(s)"
            continue
        fi
        if "$MOF" exec "$model" --inputs="$inputs" --expect="$TMP/$name-out" \
                --rtol=1e-4 --atol=1e-5 > "$TMP/$name.cmp" 2>&1; then
            pass "$name: oneDNN artifact = mof exec ($t thread(s))"
        else
            sed 's/^/    | /' "$TMP/$name.cmp"
            fail "$name: oneDNN artifact differs from mof exec ($t thread(s))"
        fi
    done
}

model_check tiny-cnn "$MODEL" "$top_srcdir/examples/models/tiny-cnn-inputs"

# ---- every op kind the provider claims, on small models written here (weights from
# lib.sh's w: deterministic, scaled by 1/sqrt(fan-in)).
# Only shapes and the backend (the graph as written: the emitter's groups fold Add and
# activations), or fuse-activation first (mof.Fused* nodes).
cat > "$TMP/bare.xml" <<XML
<pipeline>
  <pass name="infer-shapes"/>
  <backend name="cpu" output="model" prefix="m" kernels="onednn" threads="2"/>
</pipeline>
XML
cat > "$TMP/fused.xml" <<XML
<pipeline>
  <pass name="fuse-activation"/>
  <pass name="infer-shapes"/>
  <backend name="cpu" output="model" prefix="m" kernels="onednn" threads="2"/>
</pipeline>
XML

# Convolutions: plain and blocked operands, strides, asymmetric and SAME pads,
# dilations, groups, depthwise, 1x1, a first convolution (3 channels), channels that
# are no multiple of 8, residual Adds (blocked, from a graph input, and one that no
# convolution folds: a oneDNN Add of a blocked and a plain operand) with an activation
# after them, every activation, two activations in a row (one folds, the other
# runs apart); 16 -> 24 -> 16 channels (nChw16c and nChw8c on AVX-512).
cat > "$TMP/convs.onnxtxt" <<TEOF
<ir_version: 8, opset_import: ["" : 14]>
main (float[1,16,10,10] X, float[1,3,11,9] I) => (float[1,16,10,10] R, float[1,32,5,5] S,
      float[1,16,6,6] D, float[1,16,10,10] G, float[1,12,4,4] F, float[1,16,10,10] A,
      float[1,16,10,10] P, float[1,16,5,5] Q, float[1,16,10,10] K2, float[1,16,10,10] V,
      float[1,16,10,10] E, float[1,16,10,10] Z)
   <$(w W1 16 16 3 3), $(w B1 16), $(w W2 16 16 3 3), $(w B2 16), $(w W3 32 16 3 3),
    $(w W4 16 16 3 3), $(w B4 16), $(w W5 16 4 3 3), $(w W6 16 1 3 3), $(w B6 16),
    $(w W7 16 16 1 1), $(w W8 12 3 5 3), $(w B8 12), $(w W9 16 16 3 3),
    $(w W10 16 16 2 2), $(w W11 24 16 1 1), $(w W12 16 24 3 3), float lo = {-0.25}, float hi = {0.3}>
{
  ["c1"] a = Conv <kernel_shape = [3, 3], pads = [1, 1, 1, 1]> (X, W1, B1)
  ["r1"] a1 = Relu (a)
  ["c2"] b = Conv <kernel_shape = [3, 3], pads = [1, 1, 1, 1]> (a1, W2, B2)
  ["add1"] s = Add (b, a1)
  ["r2"] R = Relu (s)
  ["c3"] S = Conv <kernel_shape = [3, 3], strides = [2, 2], pads = [0, 1, 1, 0]> (R, W3)
  ["c4"] d = Conv <kernel_shape = [3, 3], dilations = [2, 2]> (X, W4, B4)
  ["lr"] D = LeakyRelu <alpha = 0.1> (d)
  ["c5"] g = Conv <kernel_shape = [3, 3], pads = [1, 1, 1, 1], group = 4> (X, W5)
  ["c6"] g2 = Conv <kernel_shape = [3, 3], auto_pad = "SAME_UPPER", group = 16> (g, W6, B6)
  ["cl"] G = Clip (g2, lo, hi)
  ["c8"] f = Conv <kernel_shape = [5, 3], strides = [3, 2], pads = [2, 0, 1, 1]> (I, W8, B8)
  ["sg"] F = Sigmoid (f)
  ["c7"] h = Conv <kernel_shape = [1, 1]> (X, W7)
  ["add2"] h2 = Add (X, h)
  ["hs"] A = HardSwish (h2)
  ["c9"] p = Conv <kernel_shape = [3, 3], auto_pad = "SAME_LOWER"> (X, W9)
  ["hsg"] P = HardSigmoid <alpha = 0.3, beta = 0.4> (p)
  ["c10"] Q = Conv <kernel_shape = [2, 2], strides = [2, 2]> (P, W10)
  ["c12"] k = Conv <kernel_shape = [3, 3], pads = [1, 1, 1, 1]> (X, W9)
  ["c13"] K2 = Conv <kernel_shape = [3, 3], pads = [1, 1, 1, 1]> (k, W2, B2)
  ["add3"] u = Add (k, K2)
  ["r3"] u1 = Relu (u)
  ["c14"] V = Conv <kernel_shape = [1, 1]> (u1, W7)
  ["c15"] e24 = Conv <kernel_shape = [1, 1]> (k, W11)
  ["c16"] E = Conv <kernel_shape = [3, 3], pads = [1, 1, 1, 1]> (e24, W12)
  ["c17"] z = Conv <kernel_shape = [1, 1]> (X, W7)
  ["za"] z1 = Relu (z)
  ["zb"] Z = Sigmoid (z1)
}
TEOF
model_check convs "$TMP/convs.onnxtxt" random "$TMP/bare.xml" c1 c2 c3 c4 c5 c6 c7 c8 c9 c10 \
    c12 c13 add3 c14 c15 c16 c17

# Pooling: max and average with pads, ceil_mode, dilations, count_include_pad,
# global max and average; inside a blocked chain and on 5 channels.
cat > "$TMP/pools.onnxtxt" <<TEOF
<ir_version: 8, opset_import: ["" : 14]>
main (float[1,16,11,11] X, float[1,5,10,7] Y) => (float[1,16,6,6] M1, float[1,16,4,4] M2,
      float[1,16,5,5] M3, float[1,16,6,6] A1, float[1,16,6,6] A2, float[1,16,4,4] A3,
      float[1,16,1,1] G1, float[1,5,1,1] G2, float[1,5,5,4] M4, float[1,5,5,4] A4,
      float[1,16,1,1] G3)
   <$(w W1 16 16 3 3), $(w W2 16 16 1 1)>
{
  ["c1"] c = Conv <kernel_shape = [3, 3], pads = [1, 1, 1, 1]> (X, W1)
  ["mp1"] m = MaxPool <kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1]> (c)
  ["c2"] M1 = Conv <kernel_shape = [1, 1]> (m, W2)
  ["mp2"] M2 = MaxPool <kernel_shape = [3, 3], strides = [3, 3], ceil_mode = 1> (X)
  ["mp3"] M3 = MaxPool <kernel_shape = [2, 2], dilations = [2, 2], strides = [2, 2], pads = [0, 0, 1, 1]> (X)
  ["ap1"] A1 = AveragePool <kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1]> (X)
  ["ap2"] A2 = AveragePool <kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1], count_include_pad = 1> (X)
  ["ap3"] A3 = AveragePool <kernel_shape = [2, 2], strides = [3, 3], ceil_mode = 1> (X)
  ["gm1"] G1 = GlobalMaxPool (X)
  ["ga1"] G2 = GlobalAveragePool (Y)
  ["mp4"] M4 = MaxPool <kernel_shape = [2, 2], strides = [2, 2], ceil_mode = 1> (Y)
  ["ap4"] A4 = AveragePool <kernel_shape = [3, 3], strides = [2, 2], pads = [0, 1, 0, 1], ceil_mode = 1> (Y)
  ["ga2"] G3 = GlobalAveragePool (c)
}
TEOF
model_check pools "$TMP/pools.onnxtxt" random "$TMP/bare.xml" mp1 mp2 mp3 ap1 ap2 ap3 gm1 ga1 mp4 ap4

# Concat along the channels: of blocked convolution outputs read by a convolution (the
# blocked chain), of a plain graph input and a blocked tensor, of three inputs with
# negative axis read by a pooling and by a portable op, a concat that is a graph
# output, batch 2 (one run per image); 24 channels stay portable (cx: not checked).
cat > "$TMP/concat.onnxtxt" <<TEOF
<ir_version: 8, opset_import: ["" : 14]>
main (float[1,16,8,8] X, float[1,16,8,8] Z, float[2,16,6,6] B) => (float[1,16,8,8] Y1,
      float[1,48,4,4] Y2, float[1,48,8,8] Y3, float[2,48,6,6] Y4, float[1,40,8,8] Y5,
      float[1,48,8,8] Y6)
   <$(w W1 16 16 1 1), $(w W2 32 16 3 3), $(w W3 16 48 1 1), $(w W4 32 16 1 1),
    $(w W5 24 16 1 1)>
{
  ["c1"] a = Conv <kernel_shape = [1, 1]> (X, W1)
  ["r1"] a1 = Relu (a)
  ["c2"] b = Conv <kernel_shape = [3, 3], pads = [1, 1, 1, 1]> (a1, W2)
  ["r2"] b1 = Relu (b)
  ["cat1"] c = Concat <axis = 1> (a1, b1)
  ["c3"] Y1 = Conv <kernel_shape = [1, 1]> (c, W3)
  ["cat2"] d = Concat <axis = -3> (Z, a1, a1)
  ["mp"] Y2 = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (d)
  ["cat3"] Y3 = Concat <axis = 1> (b1, Z)
  ["c4"] e = Conv <kernel_shape = [1, 1]> (B, W4)
  ["cat4"] Y4 = Concat <axis = 1> (e, B)
  ["c5"] f = Conv <kernel_shape = [1, 1]> (Z, W5)
  ["cx"] Y5 = Concat <axis = 1> (f, Z)
  ["n1"] Y6 = Neg (d)
}
TEOF
model_check concat "$TMP/concat.onnxtxt" random "$TMP/bare.xml" c1 c2 c3 c4 cat1 cat2 cat3 \
    cat4 mp

# Matrix products: Gemm with transB, alpha, beta and C as a row, [1, n] or a scalar,
# without C; MatMul of a 3-D A; an activation folded in (Relu after Gemm, and
# mof.FusedGemm / mof.FusedMatMul made by fuse-activation), two in a row; a Gemm plus
# a constant that is no row (not a bias: it stays apart), and a [1, n] row that is
# (MatMul of one row + Add + Relu: one oneDNN op).
cat > "$TMP/matmul.onnxtxt" <<TEOF
<ir_version: 8, opset_import: ["" : 14]>
main (float[4,24] X, float[2,3,24] T, float[1,24] X1) => (float[4,10] Y1, float[4,10] Y2,
      float[4,10] Y3, float[4,10] Y4, float[2,3,10] Y5, float[2,3,10] Y6, float[4,10] Y7,
      float[4,10] Y8, float[1,10] Y9)
   <$(w Wt 10 24), $(w Wn 24 10), $(w C1 10), $(w C2 1 10), float c3 = {0.75}, $(w Cm 4 10)>
{
  ["g1"] Y1 = Gemm <transB = 1, alpha = 0.5, beta = 2.0> (X, Wt, C1)
  ["g2"] g = Gemm (X, Wn, C2)
  ["rl"] Y2 = Relu (g)
  ["g3"] s = Gemm <beta = 0.5> (X, Wn, c3)
  ["sg"] Y3 = Sigmoid (s)
  ["g4"] Y4 = Gemm <transB = 1> (X, Wt)
  ["mm1"] Y5 = MatMul (T, Wn)
  ["mm2"] t = MatMul (T, Wn)
  ["lr"] Y6 = LeakyRelu <alpha = 0.2> (t)
  ["mm3"] m3 = MatMul (X, Wn)
  ["ra"] m4 = Relu (m3)
  ["sb"] Y7 = Sigmoid (m4)
  ["g5"] g5 = Gemm (X, Wn)
  ["ad"] Y8 = Add (g5, Cm)
  ["mm4"] m5 = MatMul (X1, Wn)
  ["ab"] m6 = Add (m5, C2)
  ["rb"] Y9 = Relu (m6)
}
TEOF
model_check matmul "$TMP/matmul.onnxtxt" random "$TMP/bare.xml" g1 g2 g3 g4 mm1 mm2 mm3 g5 mm4
model_check matmul-fused "$TMP/matmul.onnxtxt" random "$TMP/fused.xml" g1 g2 g3 g4 mm1 mm2 mm3 g5 \
    mm4
if grep -q "onednn: MatMul mm4 + Add + Relu" "$TMP/matmul/model/m.c"; then
    pass "matmul: a constant row added after a product is its bias (with the Relu after it)"
else
    grep -E '^ *\{ /\* ' "$TMP/matmul/model/m.c" | sed 's/^/    | /'
    fail "matmul: the bias Add was not folded into mm4"
fi

# Rows and products of two activations: Softmax along the last axis (3-D, and 2-D with
# opset 17's default axis; sm3 along axis 1 stays portable), LayerNormalization with and
# without B, MatMuls of two activations (3-D batched, 2-D, with a Relu folded in).
cat > "$TMP/rows.onnxtxt" <<TEOF
<ir_version: 8, opset_import: ["" : 17]>
main (float[2,3,8] X, float[5,8] V, float[2,8,5] B, float[8,6] C) => (float[2,3,8] S1,
      float[5,8] S2, float[2,3,8] S3, float[2,3,8] L1, float[5,8] L2, float[2,3,5] M1,
      float[5,6] M2, float[2,3,5] M3)
   <$(w G 8), $(w H 8)>
{
  ["sm1"] S1 = Softmax <axis = -1> (X)
  ["sm2"] S2 = Softmax (V)
  ["sm3"] S3 = Softmax <axis = 1> (X)
  ["ln1"] L1 = LayerNormalization <epsilon = 0.001> (X, G, H)
  ["ln2"] L2 = LayerNormalization <axis = 1> (V, G)
  ["bm1"] M1 = MatMul (X, B)
  ["bm2"] M2 = MatMul (V, C)
  ["bm3"] m3 = MatMul (S1, B)
  ["rl"] M3 = Relu (m3)
}
TEOF
model_check rows "$TMP/rows.onnxtxt" random "$TMP/bare.xml" sm1 sm2 ln1 ln2 bm1 bm2 bm3
model_check rows-fused "$TMP/rows.onnxtxt" random "$TMP/fused.xml" sm1 sm2 ln1 ln2 bm1 bm2 bm3

# The benchmark architectures, where a Python with torch can export them.
py=${MOF_PYTHON:-$top_srcdir/.venv/bin/python}
models="${MOF_CROSSCHECK_CACHE:-$top_builddir/tests/crosscheck-models}"
if [ -x "$py" ] && "$py" -c 'import torch, torchvision, onnx' 2>/dev/null; then
    read -r -a names <<< "${MOF_ONEDNN_NAMES:-resnet18 mobilenet_v2 squeezenet1_0 transformer_encoder}"
    mkdir -p "$models"
    if "$py" "$top_srcdir/tests/bench/export_models.py" --calibrated "$models" \
            "${names[@]}" > "$TMP/export.log" 2>&1; then
        for n in "${names[@]}"; do
            model_check "$n" "$models/$n.onnx" random
        done
    else
        sed 's/^/    | /' "$TMP/export.log"
        fail "export of the benchmark architectures"
    fi
else
    echo "note: no Python with torch: the benchmark architectures are not checked"
fi
finish
