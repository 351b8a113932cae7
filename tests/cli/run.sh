#!/bin/sh
# run.sh: mof run with the example pipelines on the example model.
. "$(dirname "$0")/lib.sh"

nodes_in=$(info_field "$MODEL" nodes)
inits_in=$(info_field "$MODEL" initializers)
expect_equal "$nodes_in" 12 "the example model has 12 nodes"

# cleanup.xml: eliminate-identity, a repeat of dead-code, the onnx backend.
expect_status 0 "mof run cleanup.xml" run "$PIPELINES/cleanup.xml" "$MODEL" -o "$TMP/out"
cp "$TMP/stderr" "$TMP/report"
out="$TMP/out/model.onnx"
check "the backend wrote out/model.onnx" test -f "$out"
expect_status 0 "the output loads" info "$out"
nodes_out=$(info_field "$out" nodes)
inits_out=$(info_field "$out" initializers)
expect_equal "$nodes_out" 9 "Identity, Dropout and the dead Relu are gone"
expect_equal "$inits_out" 10 "the unused initializer is gone"
expect_match "$TMP/report" 'eliminate-identity' "the report shows eliminate-identity"
expect_match "$TMP/report" 'dead-code' "the report shows dead-code"
expect_match "$TMP/report" 'onnx' "the report shows the onnx backend"
expect_match "$TMP/report" 'identity-removed' "the report shows identity-removed"
expect_match "$TMP/report" 'nodes-removed' "the report shows nodes-removed"
check "only model.onnx in the output folder" test "$(ls -A "$TMP/out")" = model.onnx

# The same run gives the same bytes.
expect_status 0 "a second identical run" run -q "$PIPELINES/cleanup.xml" "$MODEL" -o "$TMP/out2"
check "two runs write the same bytes" cmp -s "$out" "$TMP/out2/model.onnx"
expect_no_match stderr . "--quiet prints nothing"

# Options: --set, --verify-each, --time-passes, --no-metadata, --print-after.
expect_status 0 "--set dead-code.keep-initializers=true" run -q \
    --set dead-code.keep-initializers=true "$PIPELINES/cleanup.xml" "$MODEL" -o "$TMP/keep"
expect_equal "$(info_field "$TMP/keep/model.onnx" initializers)" "$inits_in" \
    "with keep-initializers every initializer stays"
expect_status 0 "--verify-each --time-passes" run --verify-each --time-passes \
    "$PIPELINES/cleanup.xml" "$MODEL" -o "$TMP/timed"
expect_match stderr '[0-9] ?(s|ms|us|µs)\b' "--time-passes shows times"
expect_status 0 "--no-metadata" run -q --no-metadata "$PIPELINES/cleanup.xml" "$MODEL" \
    -o "$TMP/nometa"
"$MOF" info "$TMP/out/model.onnx" >"$TMP/info-meta"
"$MOF" info "$TMP/nometa/model.onnx" >"$TMP/info-nometa"
expect_match "$TMP/info-meta" '^  mof\.' "the output records mof.* metadata"
expect_no_match "$TMP/info-nometa" '^  mof\.' "--no-metadata records none"
expect_status 0 "--print-after=dead-code" run --print-after=dead-code \
    "$PIPELINES/cleanup.xml" "$MODEL" -o "$TMP/printed"
expect_match stderr 'Gemm' "--print-after prints the graph"

# The onnx backend's parameters: large tensors to a data file beside the model.
expect_status 0 "--set onnx.external-data=above" run -q --set onnx.external-data=above \
    --set onnx.external-threshold=100 "$PIPELINES/cleanup.xml" "$MODEL" -o "$TMP/ext"
check "the data file is written" test -s "$TMP/ext/model.onnx.data"
expect_equal "$(info_field "$TMP/ext/model.onnx" nodes)" 9 "the model with external data loads"
expect_status 2 "--set onnx.external-data=bad" run --set onnx.external-data=some \
    "$PIPELINES/cleanup.xml" "$MODEL" -o "$TMP/ext2"
expect_match stderr "keep.*none.*above" "the valid choices are listed"

# --passes: a pass list and no backend: -o is the ONNX file.
expect_status 0 "--passes with a list" run -q --passes eliminate-identity,dead-code "$MODEL" \
    -o "$TMP/small.onnx"
expect_equal "$(info_field "$TMP/small.onnx" nodes)" 9 "the list did the same work"

# roundtrip.xml has no passes and no backend: the model is written back unchanged.
expect_status 0 "mof run roundtrip.xml" run -q --no-metadata "$PIPELINES/roundtrip.xml" \
    "$MODEL" -o "$TMP/round.onnx"
expect_equal "$(info_field "$TMP/round.onnx" nodes)" 12 "roundtrip keeps every node"
check "roundtrip writes the input's bytes" cmp -s "$MODEL" "$TMP/round.onnx"

# The output may not be the input: refused before anything runs, input untouched.
cp "$MODEL" "$TMP/in.onnx"
sum_before=$(cksum <"$TMP/in.onnx")
expect_status 2 "-o naming the input" run "$PIPELINES/roundtrip.xml" "$TMP/in.onnx" \
    -o "$TMP/in.onnx"
expect_one_line_error "in\\.onnx.*input" "the refusal names the file"
expect_status 2 "-o naming the input by another path" run "$PIPELINES/roundtrip.xml" \
    "$TMP/in.onnx" -o "$TMP/./in.onnx"
ln -s in.onnx "$TMP/link.onnx"
expect_status 2 "-o naming the input through a symbolic link" run \
    "$PIPELINES/roundtrip.xml" "$TMP/in.onnx" -o "$TMP/link.onnx"
mkdir "$TMP/same"
cp "$MODEL" "$TMP/same/model.onnx"
expect_status 1 "a backend output that is the input" run "$PIPELINES/cleanup.xml" \
    "$TMP/same/model.onnx" -o "$TMP/same"
expect_match stderr "cleanup\\.xml:[0-9]+: error: .*over the input model" \
    "the refusal names the pipeline line"
check "that input is untouched" cmp -s "$MODEL" "$TMP/same/model.onnx"
expect_equal "$(cksum <"$TMP/in.onnx")" "$sum_before" "the input is untouched"

expect_status 0 "mof validate cleanup.xml roundtrip.xml" validate "$PIPELINES/cleanup.xml" \
    "$PIPELINES/roundtrip.xml"
expect_match stdout "cleanup\\.xml: ok \\(2 passes, 1 backend\\)\$" "cleanup.xml: 2 passes, 1 backend"
expect_match stdout "roundtrip\\.xml: ok \\(0 passes, 0 backends\\)\$" "roundtrip.xml: nothing"

# Every example pipeline validates.
for p in "$PIPELINES"/*.xml; do
    expect_status 0 "mof validate $(basename "$p")" validate "$p"
    expect_match stdout "^$p: ok \\([0-9]+ pass(es)?, [0-9]+ backends?\\)\$" \
        "$(basename "$p") is ok"
done

finish
