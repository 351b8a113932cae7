#!/usr/bin/env bash
# preflight.sh: `mof preflight PIPELINE MODEL` asks the pipeline's backends (here the
# cpu backend of examples/pipelines/cpu.xml) about every node without optimizing or
# emitting anything: one line per node (name, op, domain, provider, ok or
# unsupported: reason), a summary per op type, exit 0 when every node is supported
# and 1 otherwise. Cases: a supported model, an unsupported op, a symbolic dim (and
# the same model pinned with --input-shape), a pipeline without a backend (a clear
# usage error), --after-passes turning a BatchNormalization model into a supported
# one (and the input model left as it was), --set cpu.kernels=onednn naming the
# oneDNN provider, and -q.
. "$(dirname "$0")/lib.sh"

need_cpu_backend
pipeline="$top_srcdir/examples/pipelines/cpu.xml"

cat > "$TMP/ok.onnxtxt" <<'EOF'
<ir_version: 8, opset_import: ["" : 13]>
main (float[2,3] x) => (float[2,3] y) {
   t = Relu (x)
   y = Sigmoid (t)
}
EOF
cat > "$TMP/hardmax.onnxtxt" <<'EOF'
<ir_version: 8, opset_import: ["" : 13]>
main (float[2,3] x) => (float[2,3] y) {
   t = Relu (x)
   y = Hardmax <axis = 1> (t)
}
EOF
cat > "$TMP/sym.onnxtxt" <<'EOF'
<ir_version: 8, opset_import: ["" : 13]>
main (float[N,3] x) => (float[N,3] y) {
   t = Relu (x)
   y = Sigmoid (t)
}
EOF
# The BatchNormalization's scale is computed (Mul of two constants): the cpu backend
# needs it constant, which fold-constants makes it, and fuse-conv-bn then folds the
# BatchNormalization into the Conv.
cat > "$TMP/bn.onnxtxt" <<'EOF'
<ir_version: 8, opset_import: ["" : 13]>
main (float[1,2,4,4] x) => (float[1,3,4,4] y)
<float[3,2,1,1] w = {1.0, 0.5, -1.0, 2.0, 0.25, -0.5}, float[3] s0 = {1.0, 2.0, 0.5},
 float[1] two = {2.0}, float[3] b = {0.1, 0.2, 0.3}, float[3] m = {0.0, 0.5, -0.5},
 float[3] v = {1.0, 2.0, 0.5}> {
   c = Conv (x, w)
   s = Mul (s0, two)
   n = BatchNormalization (c, s, b, m, v)
   y = Relu (n)
}
EOF
cat > "$TMP/nobackend.xml" <<'EOF'
<pipeline name="passes-only">
  <pass name="infer-shapes"/>
</pipeline>
EOF

# --- a supported model
expect_status 0 "a supported model" preflight "$pipeline" "$TMP/ok.onnxtxt"
expect_match stdout "^backend 'cpu' \(.*cpu.xml:[0-9]+\): .*kernels=portable" \
    "the backend is named with its pipeline line and parameters"
expect_match stdout "^  node +op +domain +provider +result$" "a header over the node lines"
expect_match stdout "^  #0 +Relu +ai.onnx +portable +ok$" "Relu: ok, run by portable"
expect_match stdout "^  #1 +Sigmoid +ai.onnx +portable +ok$" "Sigmoid: ok, run by portable"
expect_match stdout "^    Sigmoid +1 +1 +0$" "the summary per op type"
expect_match stdout "^preflight: 2 of 2 nodes supported by backend 'cpu': every node$" \
    "the totals"

# --- an unsupported op
expect_status 1 "an unsupported op" preflight "$pipeline" "$TMP/hardmax.onnxtxt"
expect_match stdout "^  #1 +Hardmax +ai.onnx +- +unsupported: the op is not in its op table$" \
    "Hardmax is unsupported, with the reason"
expect_match stdout "^  #0 +Relu +ai.onnx +portable +ok$" "the other node is still listed"
expect_match stdout "^    Hardmax +1 +0 +1$" "the summary counts it as unsupported"
expect_match stdout "^preflight: 1 of 2 nodes supported" "the totals say 1 of 2"
expect_status 1 "-q with an unsupported op" preflight -q "$pipeline" "$TMP/hardmax.onnxtxt"
expect_no_match stdout "Relu" "-q lists only the unsupported nodes"
expect_match stdout "Hardmax +ai.onnx +- +unsupported" "-q lists the unsupported node"

# --- a symbolic dim, then pinned
expect_status 1 "a symbolic dim" preflight "$pipeline" "$TMP/sym.onnxtxt"
expect_match stdout "#0 +Relu .*unsupported: input 'x': dim 0 is symbolic \('N'\).*--input-shape x=" \
    "the node reading it names the input, the dim and --input-shape"
expect_match stdout "#1 +Sigmoid .*unsupported: value 't': dim 0 is symbolic \('N'\)" \
    "shapes are inferred: the next node names its input's symbolic dim"
expect_status 0 "the same model with --input-shape" preflight --input-shape x=4,3 "$pipeline" \
    "$TMP/sym.onnxtxt"

# --- a pipeline without a backend
expect_status 2 "a pipeline without a backend" preflight "$TMP/nobackend.xml" "$TMP/ok.onnxtxt"
expect_match stderr "nobackend.xml has no <backend>" "the error says the pipeline has no backend"

# --- --after-passes
before=$(cksum < "$TMP/bn.onnxtxt")
listing() { ls -A "$TMP" | grep -Ev '^(stdout|stderr)$'; }
files_before=$(listing)
expect_status 1 "BatchNormalization with a computed scale" preflight "$pipeline" "$TMP/bn.onnxtxt"
expect_match stdout "BatchNormalization .*unsupported: BatchNormalization needs constant" \
    "the BatchNormalization is unsupported as it is"
expect_status 0 "the same model with --after-passes" preflight --after-passes "$pipeline" \
    "$TMP/bn.onnxtxt"
expect_match stdout "^after the pipeline's [0-9]+ pass steps: 1 node \(the model has 4\)$" \
    "it says what the passes made of the model"
expect_match stdout "FusedConv +mof +portable +ok$" "the passes fused Conv, BatchNormalization, Relu"
expect_no_match stdout "BatchNormalization" "no BatchNormalization is left"
check "the input model is unchanged" test "$before" = "$(cksum < "$TMP/bn.onnxtxt")"
check "nothing is written beside the model" test "$files_before" = "$(listing)"

# --- the backend's parameters: kernels=onednn (preflight needs no oneDNN installed)
if "$MOF" backends cpu 2>/dev/null | grep -q "onednn"; then
    expect_status 0 "tiny-cnn with --after-passes --set cpu.kernels=onednn" preflight \
        --after-passes --set cpu.kernels=onednn "$pipeline" "$MODEL"
    expect_match stdout "kernels=onednn" "the header shows the parameter as set"
    expect_match stdout "^  conv1 +FusedConv +mof +onednn +ok$" "the conv runs on oneDNN"
    expect_match stdout "^  flatten +Flatten +ai.onnx +portable +ok$" \
        "what oneDNN does not take falls back to portable"
fi
expect_status 1 "tiny-cnn as it is (a Dropout)" preflight "$pipeline" "$MODEL"
expect_match stdout "dropout +Dropout .*unsupported" "the Dropout is named"
expect_status 2 "a bad --set" preflight --set cpu.kernels=nope "$pipeline" "$MODEL"
expect_status 2 "a missing model argument" preflight "$pipeline"
finish
