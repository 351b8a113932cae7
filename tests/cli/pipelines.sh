#!/bin/sh
# pipelines.sh: the example pipelines optimize.xml and optimize-nhwc.xml, checked
# pass by pass; mof run --explain and --report. With MOF_PYTHON naming a Python that
# imports onnxruntime, ONNX Runtime runs optimize.xml's output against the original.
. "$(dirname "$0")/lib.sh"

nodes_in=$(info_field "$MODEL" nodes)
for p in optimize optimize-nhwc; do
    expect_status 0 "$p.xml is valid" validate "$PIPELINES/$p.xml"
    expect_status 0 "$p.xml runs with --check-each" run --check-each \
        --report="$TMP/$p.json" "$PIPELINES/$p.xml" "$MODEL" -o "$TMP/$p"
    expect_match stderr 'check-each: .* each within tolerance' "$p.xml: every pass checked"
    nodes_out=$(info_field "$TMP/$p/model.onnx" nodes)
    if [ -n "$nodes_out" ] && [ "$nodes_out" -lt "$nodes_in" ]; then
        pass "$p.xml: the node count drops ($nodes_in -> $nodes_out)"
    else
        fail "$p.xml: the node count does not drop ($nodes_in -> '$nodes_out')"
    fi
done
"$MOF" info "$TMP/optimize/model.onnx" >"$TMP/info-optimize" 2>&1
expect_no_match "$TMP/info-optimize" '^  mof:' "optimize.xml writes only standard ONNX ops"
"$MOF" info "$TMP/optimize-nhwc/model.onnx" >"$TMP/info-nhwc" 2>&1
expect_match "$TMP/info-nhwc" '^  mof:Nhwc' "optimize-nhwc.xml writes channels-last ops"

# --report: one JSON object with the steps and notes.
r="$TMP/optimize.json"
expect_match "$r" '^  "pipeline": \{"name": "optimize"' "the report names the pipeline"
expect_match "$r" '^  "model": ".*tiny-cnn.onnx"' "the report names the model"
expect_match "$r" '\{"pass": "fuse-conv-bn", "backend": false, "line": [1-9][0-9]*, "iteration": 0, "status": "changed", "seconds": [0-9.]+, "nodes_before": [0-9]+, "nodes_after": [0-9]+, "stats": \{"conv-bn": 1\}' \
    "the report has a step with its line, status, node counts and stats"
expect_match "$r" '"iteration": 2' "the report numbers the iterations of a repeat"
expect_match "$r" '"pass": "onnx", "backend": true.*"output": ".*/model.onnx"' \
    "the report has the backend's output"
expect_match "$r" '^  "notes": \[' "the report has the notes"
check "no temporary file is left beside the report" \
    test "$(ls "$TMP" | grep -c 'optimize.json')" -eq 1
if command -v python3 >/dev/null 2>&1; then
    check "the report is valid JSON" python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$r"
fi
expect_status 0 "--report with -q" run -q --passes=dead-code --report="$TMP/dc.json" \
    "$MODEL" -o "$TMP/dc.onnx"
expect_match "$TMP/dc.json" '"passes": "dead-code"' "a --passes run's report has the list"
expect_status 2 "an empty --report" run --report= --passes=dead-code "$MODEL" -o "$TMP/x.onnx"
expect_status 1 "--report into a missing folder" run --report="$TMP/no/dir/r.json" \
    --passes=dead-code "$MODEL" -o "$TMP/y.onnx"

# --explain: near misses of the fusions become notes. t is a graph output, so
# MatMul -> Add cannot become one Gemm.
cat >"$TMP/near.onnxtxt" <<'EOT'
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] x) => (float[2,4] y, float[2,4] t)
   <float[3,4] w = {1,2,3,4,5,6,7,8,9,10,11,12}, float[4] b = {1,2,3,4}>
{
   t = MatMul (x, w)
   y = Add (t, b)
}
EOT
expect_status 0 "a near miss without --explain" run --passes=fuse-matmul-add,dead-code \
    "$TMP/near.onnxtxt" -o "$TMP/near1.onnx"
expect_no_match stderr 'not fused' "no near-miss note without --explain"
expect_status 0 "a near miss with --explain" run --explain --report="$TMP/near2.json" \
    --passes=fuse-matmul-add,dead-code "$TMP/near.onnxtxt" -o "$TMP/near2.onnx"
expect_match stderr "note: .*MatMul -> Add not fused.*graph output" \
    "--explain notes the near miss and why"
expect_match "$TMP/near2.json" \
    '"severity": "note".*"pass": "fuse-matmul-add".*"message": "MatMul -> Add not fused.*graph output' \
    "the --report JSON lists the near-miss note among its diagnostics"
expect_status 0 "--set PASS.explain=false overrides --explain" run --explain \
    --set=fuse-matmul-add.explain=false --passes=fuse-matmul-add "$TMP/near.onnxtxt" \
    -o "$TMP/near3.onnx"
expect_no_match stderr 'not fused' "no near-miss note with explain=false"
expect_status 0 "--explain on a pipeline without fusions" run --explain \
    --passes=dead-code "$MODEL" -o "$TMP/near4.onnx"
expect_no_match stderr 'error' "--explain skips passes without the parameter"
expect_status 0 "--explain on optimize.xml" run --explain "$PIPELINES/optimize.xml" \
    "$MODEL" -o "$TMP/explained"

# ONNX Runtime loads and runs optimize.xml's output, and agrees with the original.
if [ -n "${MOF_PYTHON:-}" ] && "$MOF_PYTHON" -c 'import onnxruntime, numpy' 2>/dev/null; then
    check "ONNX Runtime runs optimize.xml's output as the original (1e-4)" \
        "$MOF_PYTHON" -c '
import sys, numpy as np, onnxruntime as ort
def run(path, feeds=None):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    if feeds is None:
        rng = np.random.default_rng(0)
        feeds = {i.name: rng.uniform(-1, 1, [d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)
                 for i in s.get_inputs()}
    return feeds, s.run(None, feeds)
feeds, ref = run(sys.argv[1])
_, got = run(sys.argv[2], feeds)
ok = len(ref) == len(got) and all(np.allclose(g, r, rtol=1e-4, atol=1e-4) for g, r in zip(got, ref))
for g, r in zip(got, ref):
    print("    max abs error %.3g" % float(np.max(np.abs(g - r))))
sys.exit(0 if ok else 1)
' "$MODEL" "$TMP/optimize/model.onnx"
else
    echo "note: MOF_PYTHON with onnxruntime not available; ONNX Runtime check skipped"
fi

finish
