#!/bin/sh
# info.sh: mof info on the example model and on a model with symbolic dims.
. "$(dirname "$0")/lib.sh"

expect_status 0 "mof info tiny-cnn.onnx" info "$MODEL"
out="$TMP/info"
cp "$TMP/stdout" "$out"
expect_match "$out" "^model: +.*tiny-cnn\\.onnx\$" "the model file is named"
expect_match "$out" '^ir version: +8$' "IR version 8"
expect_match "$out" '^opsets: +ai\.onnx 13$' "opset ai.onnx 13"
expect_match "$out" '^producer: +mof-examples' "the producer"
expect_match "$out" '^graph: +tiny_cnn$' "the graph name"
expect_match "$out" '^  image +float\[1,3,16,16\]$' "input image: float[1,3,16,16]"
expect_match "$out" '^  logits +float\[1,10\]$' "output logits: float[1,10]"
expect_match "$out" '^nodes: +12 ' "12 nodes"
# 946 parameters: conv1 216+8, bn1 4x8, conv2 576+8, fc 80+10, unused 16.
expect_match "$out" '^initializers: +11, 946 parameters, 3\.7 KiB \(3784 bytes\)$' \
    "11 initializers, 946 parameters, 3784 bytes"
# The histogram: by count, then by name.
sed -n '/^operators:/,$p' "$out" | sed 1d | awk '{print $1, $2}' >"$TMP/ops"
cat >"$TMP/ops.want" <<'OPS'
Relu 3
Conv 2
BatchNormalization 1
Dropout 1
Flatten 1
Gemm 1
GlobalAveragePool 1
Identity 1
MaxPool 1
OPS
if cmp -s "$TMP/ops" "$TMP/ops.want"; then
    pass "the operator histogram, sorted by count then name"
else
    fail "the operator histogram:"
    diff "$TMP/ops.want" "$TMP/ops" | sed 's/^/    /'
fi

# A model with a symbolic dim (N), a number, and an unknown dim: x -> Relu -> y.
printf '\010\010\072\111\012\022\012\001\170\022\001\171\032\004\162\145\154\165\042\004\122\145\154\165\022\003\163\171\155\132\026\012\001\170\022\021\012\017\010\001\022\013\012\003\022\001\116\012\002\010\003\012\000\142\026\012\001\171\022\021\012\017\010\001\022\013\012\003\022\001\116\012\002\010\003\012\000\102\004\012\000\020\015' >"$TMP/sym.onnx"
expect_status 0 "mof info on a model with symbolic dims" info "$TMP/sym.onnx"
expect_match stdout '^  x +float\[N,3,\?\]$' "symbolic dims by name, unknown ones as ?"
expect_match stdout '^producer: +\(none\)$' "no producer"
expect_match stdout '^nodes: +1 ' "1 node"
expect_match stdout '^initializers: +0, 0 parameters, 0 bytes$' "no initializers"

expect_status 0 "mof info on two models" info "$MODEL" "$TMP/sym.onnx"
n=$(grep -c '^model:' "$TMP/stdout")
expect_equal "$n" 2 "two descriptions"

expect_status 3 "mof info on a missing file" info "$TMP/nope.onnx"
expect_match stderr "nope\\.onnx" "the missing file is named"
expect_status 2 "mof info without a model" info
expect_status 2 "mof info with an unknown option" info --bogus "$MODEL"

finish
