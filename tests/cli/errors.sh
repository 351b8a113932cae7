#!/bin/sh
# errors.sh: every kind of failure gets its exit status and a one-line message that
# names the file (and line) at fault.
. "$(dirname "$0")/lib.sh"

# Bad input: exit status 3.
printf '<pipeline name="bad">\n  <pass name="dead-code">\n</pipeline>\n' >"$TMP/bad-xml.xml"
expect_status 3 "a pipeline that is not well-formed XML" run "$TMP/bad-xml.xml" "$MODEL" \
    -o "$TMP/out"
expect_error_lines "bad-xml\\.xml:[0-9]+(:[0-9]+)?: error: " "each message names file:line"

printf '<pipeline name="typo">\n  <pass name="eliminate-identity"/>\n  <pass name="dead-cod"/>\n</pipeline>\n' \
    >"$TMP/unknown-pass.xml"
expect_status 3 "an unknown pass" run "$TMP/unknown-pass.xml" "$MODEL" -o "$TMP/out"
expect_one_line_error "unknown-pass\\.xml:3(:[0-9]+)?: error: .*dead-cod.*did you mean 'dead-code'" \
    "the message names file:line and suggests dead-code"

printf '<pipeline name="range">\n  <pass name="dead-code"/>\n  <backend name="onnx" external-threshold="-5"/>\n</pipeline>\n' \
    >"$TMP/range.xml"
expect_status 3 "a parameter out of range" run "$TMP/range.xml" "$MODEL" -o "$TMP/out"
expect_one_line_error "range\\.xml:3(:[0-9]+)?: error: .*external-threshold.*-5" \
    "the message names file:line, the parameter and the value"

printf '<pipeline name="param">\n  <pass name="dead-code" keep-initializer="true"/>\n</pipeline>\n' \
    >"$TMP/param.xml"
expect_status 3 "an unknown parameter" run "$TMP/param.xml" "$MODEL" -o "$TMP/out"
expect_one_line_error "param\\.xml:2(:[0-9]+)?: error: .*keep-initializer.*did you mean 'keep-initializers'" \
    "the message names file:line and suggests keep-initializers"

expect_status 3 "a missing pipeline file" run "$TMP/nope.xml" "$MODEL" -o "$TMP/out"
expect_one_line_error "nope\\.xml" "the message names the file"

expect_status 3 "a missing model file" run "$PIPELINES/cleanup.xml" "$TMP/nope.onnx" -o "$TMP/out"
expect_one_line_error "nope\\.onnx.*: error: |error: .*nope\\.onnx" "the message names the file"

printf '\377\377\377\377\377' >"$TMP/corrupt.onnx"
expect_status 3 "a corrupt model" run "$PIPELINES/cleanup.xml" "$TMP/corrupt.onnx" -o "$TMP/out"
expect_one_line_error "corrupt\\.onnx" "the message names the file"
head -c 1000 "$MODEL" >"$TMP/truncated.onnx"
expect_status 3 "a truncated model" run "$PIPELINES/cleanup.xml" "$TMP/truncated.onnx" \
    -o "$TMP/out"
expect_one_line_error "truncated\\.onnx" "the message names the file"
: >"$TMP/empty.onnx"
expect_status 3 "an empty model file" run "$PIPELINES/cleanup.xml" "$TMP/empty.onnx" -o "$TMP/out"
expect_one_line_error "empty\\.onnx" "the message names the file"
expect_status 3 "mof validate on a bad pipeline" validate "$TMP/unknown-pass.xml"
expect_status 3 "mof validate with a bad and a good pipeline" validate "$TMP/bad-xml.xml" \
    "$PIPELINES/cleanup.xml"
expect_match stdout "cleanup\\.xml: ok" "the good one is still checked"

# Usage errors: exit status 2.
expect_status 2 "mof run without arguments" run
expect_match stderr "^mof run: missing" "it says what is missing"
expect_status 2 "mof run without a model" run "$PIPELINES/cleanup.xml"
expect_status 2 "mof run without -o" run "$PIPELINES/cleanup.xml" "$MODEL"
expect_match stderr "-o OUT" "it asks for -o"
expect_status 2 "mof run with an extra argument" run "$PIPELINES/cleanup.xml" "$MODEL" extra \
    -o "$TMP/out"
expect_status 2 "an unknown option" run --time-pass "$PIPELINES/cleanup.xml" "$MODEL" -o "$TMP/out"
expect_match stderr "did you mean '--time-passes'" "the closest option is suggested"
expect_status 2 "an option without its value" run "$PIPELINES/cleanup.xml" "$MODEL" -o
expect_status 2 "a flag with a value" run --quiet=yes "$PIPELINES/cleanup.xml" "$MODEL" -o "$TMP/out"
expect_status 2 "--set of an unknown parameter" run --set dead-code.keep-initializer=true \
    "$PIPELINES/cleanup.xml" "$MODEL" -o "$TMP/out"
expect_match stderr "keep-initializer" "the parameter is named"
expect_status 2 "--set with a bad value" run --set dead-code.keep-initializers=maybe \
    "$PIPELINES/cleanup.xml" "$MODEL" -o "$TMP/out"
expect_status 2 "--set of a pass not in the pipeline" run --set fold.x=1 \
    "$PIPELINES/cleanup.xml" "$MODEL" -o "$TMP/out"
expect_status 2 "--print-after an unknown pass" run --print-after=dead-cod \
    "$PIPELINES/cleanup.xml" "$MODEL" -o "$TMP/out"
expect_match stderr "did you mean 'dead-code'" "the closest pass is suggested"
expect_status 2 "a bad --passes list" run --passes 'dead-code(' "$MODEL" -o "$TMP/out"
check "none of the failed commands wrote $TMP/out" test ! -e "$TMP/out"

# Plugin loading errors: exit status 4.
mkdir "$TMP/plugins"
echo "not a shared object" >"$TMP/plugins/broken.so"
expect_status 4 "a broken plugin in a --plugin-dir" run --plugin-dir "$TMP/plugins" \
    "$PIPELINES/cleanup.xml" "$MODEL" -o "$TMP/out"
expect_one_line_error "broken\\.so: cannot load plugin" "the message names the plugin file"
printf '<pipeline name="p">\n  <plugin path="./missing-plugin.so"/>\n  <pass name="dead-code"/>\n</pipeline>\n' \
    >"$TMP/plugin.xml"
expect_status 4 "a pipeline's missing plugin" run "$TMP/plugin.xml" "$MODEL" -o "$TMP/out"
expect_match stderr "missing-plugin\\.so" "the message names the plugin file"
expect_status 4 "a missing --plugin-dir" run --plugin-dir "$TMP/nope" "$PIPELINES/cleanup.xml" \
    "$MODEL" -o "$TMP/out"
expect_one_line_error "nope" "the message names the folder"

# The run fails (exit status 1) when the backend cannot write; nothing is left behind.
: >"$TMP/file"
expect_status 1 "a backend that cannot write" run "$PIPELINES/cleanup.xml" "$MODEL" \
    -o "$TMP/file/out"
expect_match stderr "error" "the failure is explained"

finish
