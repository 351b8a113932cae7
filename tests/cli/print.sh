#!/bin/sh
# print.sh: mof print writes a model in the ONNX text syntax, and text with every
# constant in full reads back (as .onnxtxt) as the same graph.
. "$(dirname "$0")/lib.sh"

expect_status 0 "mof print" print "$MODEL"
cp "$TMP/stdout" "$TMP/default.txt"
expect_match "$TMP/default.txt" '^tiny_cnn \(' "the graph's signature is printed"
expect_match "$TMP/default.txt" '^   \[conv1\] conv1_out = Conv <' "a Conv node line is printed"
expect_match "$TMP/default.txt" '^   \[relu1\] relu1_out = Relu \(' "a Relu node line is printed"
n=$(grep -Ec '^   \[[^]]*\] [^ ]+ = [A-Za-z]' "$TMP/default.txt")
expect_equal "$n" "$(info_field "$MODEL" nodes)" "one line per node"
expect_match "$TMP/default.txt" '= \.\.\.' "big constants are left out by default"
expect_match "$TMP/default.txt" '"conv1.bias" = \{' "small constants are written inline"

expect_status 0 "mof print --max-elements=1000000" print --max-elements=1000000 "$MODEL"
cp "$TMP/stdout" "$TMP/model.onnxtxt"
expect_no_match "$TMP/model.onnxtxt" '= \.\.\.' "every constant is written in full"
expect_status 0 "mof info reads the printed text back" info "$TMP/model.onnxtxt"
got=$(info_field "$TMP/model.onnxtxt" nodes)
want=$(info_field "$MODEL" nodes)
expect_equal "$got" "$want" "the text has the model's node count"
expect_status 0 "mof print --max-elements=all" print --max-elements=all "$MODEL"
check "--max-elements=all prints what a large bound does" cmp -s "$TMP/stdout" "$TMP/model.onnxtxt"
expect_status 0 "mof print reads .onnxtxt" print --max-elements all "$TMP/model.onnxtxt"
check "printing the text back gives the same text" cmp -s "$TMP/stdout" "$TMP/model.onnxtxt"

expect_status 2 "a bad --max-elements" print --max-elements=lots "$MODEL"
expect_match stderr "max-elements" "the bad option is named"
expect_status 2 "mof print without a model" print
expect_status 2 "mof print with two models" print "$MODEL" "$MODEL"
expect_status 3 "mof print of a missing file" print "$TMP/nope.onnx"

finish
