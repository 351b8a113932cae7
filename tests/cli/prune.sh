#!/bin/sh
# prune.sh: the pruning passes from the command line: `mof passes` documents their
# typed parameters; on the digits CNN each pass reports parameters, nonzero
# parameters, bytes and FLOPs before and after in its note and statistics; a pruned
# model still runs in mof's interpreter (and, when a Python with onnxruntime is found,
# in ONNX Runtime, which must count the same correct images); the example pipelines
# prune-sparse.xml and prune-channels.xml validate and run; bad parameters are errors.
. "$(dirname "$0")/lib.sh"

D="$top_srcdir/examples/digits"
DIGITS="$D/digits-cnn.onnx"

expect_status 0 "mof passes describes the pruning passes" passes prune-magnitude prune-nm \
    prune-channels
for w in '^prune-magnitude - ' '^prune-nm - ' '^prune-channels - ' '^  sparsity  *float \[0, 1\] *default 0.5' \
         '^  scope  *\{layer\|global\}' '^  n  *int \[0, 64\] *default 2' '^  m  *int \[1, 64\] *default 4' \
         '^  norm  *\{l1\|l2\}' '^  criterion  *\{l1\|l2\|l2-reader\|activation\}' \
         '^  compensate  *bool' '^  reconstruct  *bool' '^  calibration  *string' '^  round-to  *int' '^  exclude-nodes  *string' '^  min-params  *int'; do
    expect_match stdout "$w" "mof passes documents $w"
done

# Unstructured: the note says what went, the statistics agree.
expect_status 0 "prune-magnitude at 50%" run --passes 'prune-magnitude(sparsity=0.5,scope=global)' \
    "$DIGITS" -o "$TMP/mag.onnx"
expect_match stderr "note: pass 'prune-magnitude': zeroed 12408 of 24816 weights in 6 layers \\(global scope\\), sparsity 0\\.0% -> 50\\.0%; params 25266 -> 25266 \\(nonzero 25266 -> 12858\\)" \
    "its note counts the weights and parameters"
expect_match stderr '^prune-magnitude .* weights-zeroed=12408 .*flops-before=1125312 flops-after=1125312 nonzero-flops-before=1125312 nonzero-flops-after=' \
    "its statistics carry the FLOPs"

# Structured: the model gets smaller, runs in the interpreter, keeps its interface.
expect_status 0 "prune-channels at 25%" run --passes 'fuse-conv-bn,dead-code,prune-channels(ratio=0.25),dead-code' \
    "$DIGITS" -o "$TMP/ch.onnx"
expect_match stderr "note: pass 'prune-channels': removed 34 of 136 output channels of 5 Convs" \
    "its note counts the channels"
expect_match stderr 'params 24962 -> 14188 .*FLOPs 1125312 -> 636624' \
    "parameters and FLOPs drop"
"$MOF" info "$TMP/ch.onnx" >"$TMP/info" 2>&1
expect_match "$TMP/info" '^  input  float\[N,1,8,8\]$' "the input keeps its shape"
expect_match "$TMP/info" '^  logits  float\[N,10\]$' "the output keeps its shape"
expect_status 1 "the pruned model runs in the interpreter" exec "$TMP/ch.onnx" \
    --inputs "$D/test" --expect "$D/test"
expect_match stdout '^logits  *float\[450,10\] ' "and gives 450 rows of logits"
mof_top1=$(sed -n 's/^logits  *float\[450,10\] .* \([0-9][0-9]*\)\/450  *FAIL .*/\1/p' "$TMP/stdout")

# Compensation: the removed channels' means, measured on the calibration images, go
# into the readers' biases; the model then classifies more test images correctly
# than the same pruning without compensation.
expect_status 0 "prune-channels at 25%, calibrated" run --passes \
    "fuse-conv-bn,dead-code,prune-channels(ratio=0.25,calibration='$D/calib'),dead-code" \
    "$DIGITS" -o "$TMP/chc.onnx"
expect_match stderr "criterion l1, compensated with means over 100 calibration samples" \
    "its note says where the means come from"
expect_match stderr '^prune-channels .*calibration-samples=100 .*reads-compensated=' \
    "its statistics count the compensated reads"
expect_status 0 "prune-channels at 25%, no compensation" run --passes \
    'fuse-conv-bn,dead-code,prune-channels(ratio=0.25,compensate=false),dead-code' \
    "$DIGITS" -o "$TMP/ch0.onnx"
top1() {
    "$MOF" exec "$1" --inputs "$D/test" --expect "$D/test" 2>/dev/null |
        sed -n 's/^logits  *float\[450,10\] .* \([0-9][0-9]*\)\/450 .*/\1/p'
}
cal_top1=$(top1 "$TMP/chc.onnx")
none_top1=$(top1 "$TMP/ch0.onnx")
check "calibrated compensation ($cal_top1/450) beats none ($none_top1/450)" \
    test "${cal_top1:-0}" -gt "${none_top1:-999}"
# Reconstruction refits the readers by least squares on the same images: better still.
expect_status 0 "prune-channels at 25%, reconstructed" run --passes \
    "fuse-conv-bn,dead-code,prune-channels(ratio=0.25,calibration='$D/calib',reconstruct=true),dead-code" \
    "$DIGITS" -o "$TMP/chr.onnx"
expect_match stderr "5 readers refitted over 100 calibration samples" "its note counts the readers"
rec_top1=$(top1 "$TMP/chr.onnx")
check "reconstruction ($rec_top1/450) beats compensation ($cal_top1/450)" \
    test "${rec_top1:-0}" -gt "${cal_top1:-999}"
expect_status 1 "criterion=activation without calibration is refused" run --passes \
    'prune-channels(criterion=activation)' "$DIGITS" -o "$TMP/bad.onnx"
expect_match stderr "criterion=activation needs calibration data" "and says why"

# N:M: a layer whose reduction axis is not a multiple of m is named.
expect_status 0 "prune-nm" run --passes 'prune-nm(n=2,m=4)' "$DIGITS" -o "$TMP/nm.onnx"
expect_match stderr "not pruned: weight 'conv1.weight' has 1 elements along its reduction axis 1" \
    "the first Conv (one input channel) is skipped with a note"

# The example pipelines.
for p in prune-sparse prune-channels; do
    expect_status 0 "$p.xml is valid" validate "$PIPELINES/$p.xml"
    expect_status 0 "$p.xml runs on the digits CNN" run "$PIPELINES/$p.xml" "$DIGITS" -o "$TMP/$p"
done

# Errors name the parameter.
expect_status 2 "sparsity above 1 is refused" run --passes 'prune-magnitude(sparsity=1.5)' \
    "$DIGITS" -o "$TMP/bad.onnx"
expect_match stderr "sparsity" "the error names the parameter"
expect_status 1 "an unknown node pattern is refused" run --passes 'prune-channels(nodes=nothing)' \
    "$DIGITS" -o "$TMP/bad.onnx"
expect_match stderr "parameter 'nodes': 'nothing' matches no node of the model" "and says so"
check "no output is left after the failures" test ! -e "$TMP/bad.onnx"

# ONNX Runtime loads the pruned model and counts what the interpreter counts.
py="${MOF_PYTHON:-}"
[ -z "$py" ] && [ -x "$top_srcdir/.venv/bin/python" ] && py="$top_srcdir/.venv/bin/python"
if [ -n "$py" ] && "$py" -c 'import onnxruntime, numpy' >/dev/null 2>&1; then
    "$py" "$D/eval_digits.py" --json "$TMP/ch.onnx" >"$TMP/ort.json" 2>"$TMP/ort.err"
    ort_top1=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["correct"])' "$TMP/ort.json" 2>/dev/null)
    expect_equal "$ort_top1" "$mof_top1" "ONNX Runtime and the interpreter agree on the pruned model"
else
    echo "skip: no Python with onnxruntime (set MOF_PYTHON)"
fi
finish
