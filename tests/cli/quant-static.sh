#!/usr/bin/env bash
# quant-static.sh: quantize-static end to end on tiny-cnn with the example pipeline:
# QDQ and QOperator outputs, the SQNR report in the notes and in --report JSON,
# stats-out/stats-in, clear errors; with $MOF_PYTHON (or the source tree's .venv),
# the quantized models load and run in ONNX Runtime close to the float model.
. "$(dirname "$0")/lib.sh"

INPUTS="$top_srcdir/examples/models/tiny-cnn-inputs"

expect_status 0 "example pipeline quantizes tiny-cnn" run "$PIPELINES/quantize-static.xml" \
    "$MODEL" -o "$TMP/qdq" --set "quantize-static.calibration=$INPUTS" \
    --report "$TMP/report.json"
expect_match "$TMP/stderr" "tensor SQNR, worst first" "the SQNR table is printed"
expect_match "$TMP/stderr" "model output SQNR [0-9.]+ dB" "the output SQNR is printed"
expect_match "$TMP/report.json" '"quantize-static": \{"format": "qdq"' "the report JSON has the table"
expect_match "$TMP/report.json" '"sqnr_alone_db": [0-9.]+' "per-tensor SQNR in the JSON"

expect_status 0 "random calibration" run --passes \
    "quantize-static(calibration=random:4,layer-report=true)" "$MODEL" -o "$TMP/rnd.onnx"
expect_match "$TMP/stderr" "warning: .*CALIBRATING ON 4 RANDOM INPUTS" "random calibration warns"
expect_match "$TMP/stderr" "node sensitivity, worst first" "layer-report prints node costs"

expect_status 0 "QOperator with a test-data folder" run --passes \
    "fuse-conv-bn,dead-code,quantize-static(calibration=$INPUTS,format=qoperator,stats-out=$TMP/s.stats)" \
    "$MODEL" -o "$TMP/qop.onnx" --no-metadata
mof_run print "$TMP/qop.onnx"
expect_match "$TMP/stdout" "QLinearConv" "QOperator output has QLinearConv"
expect_match "$TMP/s.stats" "^mof-quant-stats 1" "stats-out wrote statistics"

expect_status 0 "stats-in replaces calibration" run --passes \
    "fuse-conv-bn,dead-code,quantize-static(stats-in=$TMP/s.stats,format=qoperator)" \
    "$MODEL" -o "$TMP/qop2.onnx" --no-metadata
check "stats-in gives the same model" cmp -s "$TMP/qop.onnx" "$TMP/qop2.onnx"

expect_status 1 "no calibration is an error" run --passes "quantize-static" "$MODEL" \
    -o "$TMP/none.onnx"
expect_match "$TMP/stderr" "give calibration data" "the error says what to give"
check "nothing written on error" test ! -e "$TMP/none.onnx"
expect_status 1 "a missing calibration folder is an error" run --passes \
    "quantize-static(calibration=$TMP/nope)" "$MODEL" -o "$TMP/none.onnx"
expect_match "$TMP/stderr" "is not a folder" "the error names the folder"

# Default op types on the digits CNN: MaxPool and Flatten share their input's scale
# and zero point, GlobalAveragePool has its own (checked in ONNX Runtime below).
DIGITS="$top_srcdir/examples/digits"
expect_status 0 "digits CNN with the default op types" run --passes \
    "quantize-static(calibration=$DIGITS/calib,report-samples=0)" "$DIGITS/digits-cnn.onnx" \
    -o "$TMP/digits.onnx"
expect_match "$TMP/stderr" "nodes-quantized=9 " "pooling and Flatten are quantized too"

py=${MOF_PYTHON:-$top_srcdir/.venv/bin/python}
if [ -x "$py" ] && "$py" -c 'import numpy, onnx, onnxruntime' 2>/dev/null; then
    # What ONNX Runtime makes of it: its QDQ fusions put the pooling on 8-bit kernels.
    check "ONNX Runtime runs the digits CNN's pooling on uint8" "$py" - "$TMP/digits.onnx" \
        "$TMP/digits-ort.onnx" <<'PY'
import sys
import onnx, onnxruntime as ort
so = ort.SessionOptions(); so.log_severity_level = 3
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
so.optimized_model_filepath = sys.argv[2]
ort.InferenceSession(sys.argv[1], so, providers=["CPUExecutionProvider"])
g = onnx.load(sys.argv[2]).graph
prod = {o: n.op_type for n in g.node for o in n.output}
ops = [n.op_type for n in g.node]
pool = [n for n in g.node if n.op_type == "MaxPool"]
print("    ORT ops:", sorted(set(ops)))
ok = "QLinearGlobalAveragePool" in ops and "GlobalAveragePool" not in ops and \
    len(pool) == 1 and prod.get(pool[0].input[0]) != "DequantizeLinear"
sys.exit(0 if ok else 1)
PY
    for m in "$TMP/qdq/model.onnx" "$TMP/qop.onnx"; do
        check "ONNX Runtime runs $(basename "$m") close to float" "$py" - "$MODEL" "$m" \
            "$INPUTS/input_0.pb" <<'PY'
import sys
import numpy as np, onnx, onnxruntime as ort
from onnx import numpy_helper
f, q, pb = sys.argv[1:4]
t = onnx.TensorProto()
t.ParseFromString(open(pb, "rb").read())
x = {"image": numpy_helper.to_array(t)}
so = ort.SessionOptions(); so.log_severity_level = 3
a = ort.InferenceSession(f, so).run(None, x)[0]
b = ort.InferenceSession(q, so).run(None, x)[0]
db = 10 * np.log10((a.astype(np.float64) ** 2).sum() / ((a - b) ** 2).sum())
print("    SQNR %.2f dB" % db)
sys.exit(0 if db > 20 else 1)
PY
    done
else
    echo "note: no Python with onnxruntime: the ONNX Runtime checks are skipped"
fi

finish
