#!/usr/bin/env bash
# quant-dynamic.sh: `mof run` with quantize-dynamic and quantize-weights on the tiny
# CNN and on a small MatMul model (two MatMuls and a Gemm, written as text here), and,
# when a Python with onnxruntime is found ($MOF_PYTHON, else $top_srcdir/.venv), the
# quantized models run in ONNX Runtime and agree with mof's interpreter.
#
# Tolerances. Against the float model (mof verify): the cosine similarity must stay
# above 0.99 (int8) / 0.95 (int4), and the CNN's top-1 class must agree: elementwise
# bounds would be arbitrary here; tests/unit/test_quant_dynamic.c checks derived ones.
# ORT against mof's interpreter on the same quantized model: 1e-4 relative plus 2e-4
# absolute. Both compute the same integer products exactly; what remains is float
# rounding (ORT fuses DynamicQuantizeLinear + MatMulInteger + Cast + Mul into one
# kernel that multiplies the scales in another order) and, rarely, an activation that
# lands on a rounding tie. ORT runs with basic graph optimizations: its full level
# replaces DequantizeLinear(int4) + MatMul by MatMulNBits, whose default accuracy level
# quantizes the activations to int8 as well (compared only loosely, by cosine).
. "$(dirname "$0")/lib.sh"

# A small transformer-like block in the text syntax: two MatMuls and a Gemm, K = 64,
# with weights uniform in [-amp, amp) from a Park-Miller generator (exact in awk's
# doubles, so the same on every machine).
weights() { # COUNT AMP SEED
    awk -v n="$1" -v a="$2" -v s="$3" 'BEGIN {
        for (i = 0; i < n; i++) {
            s = (s * 16807) % 2147483647
            printf "%s%.6f", i ? ", " : "", (s / 2147483647 * 2 - 1) * a
        }
    }'
}
{
    echo '<ir_version: 8, opset_import: ["" : 17]>'
    echo 'mm (float[4,64] x) => (float[4,32] y, float[4,16] z)'
    printf '   <float[64,32] W1 = {'
    weights 2048 0.3 1
    printf '},\n    float[32,32] W2 = {'
    weights 1024 0.2 2
    printf '},\n    float[16,32] G = {'
    weights 512 0.25 3
    printf '},\n    float[16] C = {'
    awk 'BEGIN { for (i = 0; i < 16; i++) printf "%s%.3f", i ? ", " : "", i * 0.01 - 0.05 }'
    echo '}>'
    echo '{'
    echo '   h = MatMul (x, W1)'
    echo '   r = Relu (h)'
    echo '   y = MatMul (r, W2)'
    echo '   z = Gemm <transB = 1, alpha = 0.5> (y, G, C)'
    echo '}'
} >"$TMP/mm.onnxtxt"
expect_status 0 "the MatMul model converts to ONNX" run --passes=eliminate-identity \
    "$TMP/mm.onnxtxt" -o "$TMP/mm.onnx"

# quantize NAME MODEL PASSES COSINE [top1]: runs the passes and compares with the
# float model (with top1: the model is a classifier, its top-1 class must agree).
quantize() {
    name=$1 model=$2 passes=$3 cosine=$4 top1=${5:-}
    expect_status 0 "$name: mof run --passes='$passes'" run --passes="$passes" \
        "$model" -o "$TMP/$name.onnx" || return 1
    expect_match stderr 'nodes-quantized=[1-9]' "$name: reports the nodes it quantized"
    expect_match stderr 'bytes-before=[0-9]+ bytes-after=[0-9]+' "$name: reports the bytes"
    mof_run verify --json --random=2 --rtol=1 --atol=1e9 "$model" "$TMP/$name.onnx"
    got=$(grep -o '"cosine": *[0-9.e+-]*' "$TMP/stdout" | sed 's/.*: *//' | sort -g | head -n 1)
    rows=$(grep -o '"top1_rows": *[0-9]*' "$TMP/stdout" | sed 's/.*: *//' | awk '{ s += $1 } END { print s + 0 }')
    agree=$(grep -o '"top1_agree": *[0-9]*' "$TMP/stdout" | sed 's/.*: *//' | awk '{ s += $1 } END { print s + 0 }')
    [ -z "$top1" ] || expect_equal "$agree" "$rows" "$name: top-1 rows that agree with the float model"
    if [ -n "$got" ] && awk -v c="$got" -v w="$cosine" 'BEGIN { exit !(c >= w) }'; then
        pass "$name: cosine similarity to the float model $got >= $cosine"
    else
        fail "$name: cosine similarity '$got' below $cosine"
        show_output
    fi
}

quantize cnn-dyn "$MODEL" 'quantize-dynamic(conv-min-elements=0)' 0.99 top1
quantize cnn-dyn-pc "$MODEL" 'quantize-dynamic(conv-min-elements=0,per-channel=true)' 0.99 top1
quantize cnn-qdq "$MODEL" 'quantize-dynamic(format=qdq,conv-min-elements=0,per-channel=true)' \
    0.99 top1
quantize mm-dyn "$TMP/mm.onnx" 'quantize-dynamic' 0.99
quantize mm-dyn-u8 "$TMP/mm.onnx" 'quantize-dynamic(weight-type=uint8)' 0.99
quantize mm-w8 "$TMP/mm.onnx" 'quantize-weights' 0.999
quantize mm-w4 "$TMP/mm.onnx" 'quantize-weights(bits=4)' 0.95
quantize mm-w4a "$TMP/mm.onnx" 'quantize-weights(bits=4,block-size=16,symmetric=false)' 0.95

# The default Conv rule leaves the tiny CNN's small convolutions float.
expect_status 0 "quantize-dynamic keeps small convolutions float" \
    run --passes=quantize-dynamic "$MODEL" -o "$TMP/cnn-default.onnx"
expect_match stderr "conv-min-elements" "the note says why a Conv stays float"
expect_match stderr 'nodes-quantized=1' "only the Gemm is quantized"

# int4: opset 21, packed int4 initializers, and the file shrinks.
expect_status 0 "mof info reads the int4 model" info "$TMP/mm-w4.onnx"
mof_run print "$TMP/mm-w4.onnx"
expect_match stdout '"" : 21' "quantize-weights(bits=4) raises the opset to 21"
expect_match stdout 'int4\[64,32\] W1_quantized' "W1 is stored as int4"
expect_match stdout 'block_size: int = 32' "blocks of 32 along K"
size_f=$(wc -c <"$TMP/mm.onnx")
size_4=$(wc -c <"$TMP/mm-w4.onnx")
size_8=$(wc -c <"$TMP/mm-w8.onnx")
if [ "$size_4" -lt $((size_f / 4)) ] && [ "$size_8" -lt $((size_f * 4 / 10)) ]; then
    pass "file sizes: float $size_f, int8 $size_8, int4 $size_4 bytes"
else
    fail "file sizes: float $size_f, int8 $size_8, int4 $size_4 bytes (want < 40%, < 25%)"
fi

# Bad parameters are refused before anything runs.
expect_status 2 "bits=3 is refused" run --passes='quantize-weights(bits=3)' "$MODEL" \
    -o "$TMP/bad.onnx"
expect_match stderr "bits" "the error names the parameter"

# ONNX Runtime.
py=${MOF_PYTHON:-}
[ -n "$py" ] || py="$top_srcdir/.venv/bin/python"
if [ ! -x "$py" ] || ! "$py" -c 'import numpy, onnx, onnxruntime' 2>/dev/null; then
    echo "note: no Python with onnxruntime: the ONNX Runtime checks are skipped"
    finish
fi
cat >"$TMP/ort.py" <<'EOF'
import sys, numpy as np, onnx, onnxruntime as ort
model, indir, expdir, level = sys.argv[1:5]
so = ort.SessionOptions()
so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
rng = np.random.default_rng(7)
feed = {}
for i in s.get_inputs():
    x = rng.uniform(-1, 1, [d if isinstance(d, int) else 1 for d in i.shape])
    feed[i.name] = x.astype(np.float32)
    np.save(f"{indir}/{i.name}.npy", feed[i.name])
for o, y in zip(s.get_outputs(), s.run(None, feed)):
    np.save(f"{expdir}/{o.name}.npy", y)
EOF
for name in cnn-dyn cnn-dyn-pc cnn-qdq mm-dyn mm-dyn-u8 mm-w8 mm-w4 mm-w4a; do
    d="$TMP/ort-$name"
    mkdir -p "$d/in" "$d/exp"
    if ! "$py" "$TMP/ort.py" "$TMP/$name.onnx" "$d/in" "$d/exp" ORT_ENABLE_BASIC \
        >"$d/log" 2>&1; then
        fail "$name: ONNX Runtime cannot run it"
        sed 's/^/    | /' "$d/log"
        continue
    fi
    expect_status 0 "$name: ONNX Runtime and mof's interpreter agree" \
        exec "$TMP/$name.onnx" --inputs="$d/in" --expect="$d/exp" --rtol=1e-4 --atol=2e-4
    mkdir -p "$d/all"
    if "$py" "$TMP/ort.py" "$TMP/$name.onnx" "$d/in" "$d/all" ORT_ENABLE_ALL >"$d/log" 2>&1; then
        pass "$name: runs in ONNX Runtime with every optimization"
    else
        fail "$name: ONNX Runtime with every optimization"
        sed 's/^/    | /' "$d/log"
    fi
done
finish
