#!/bin/sh
# digits.sh: the trained digits CNN of examples/digits on its held-out images.
# mof's reference interpreter classifies them as accurately as the README records
# (at most 0.1 points lower); examples/pipelines/optimize.xml fuses the model's
# BatchNormalizations and keeps every prediction; the calibration folder loads as
# inputs. The accuracy is read without Python: `mof exec --expect` against the
# one-hot labels in test/logits.npy, whose top-1 agreement column counts the
# images whose argmax is the label. When a Python with numpy and onnxruntime is
# found ($MOF_PYTHON, else $top_srcdir/.venv), the data files are checked
# against each other and examples/digits/eval_digits.py (ONNX Runtime) must
# count what the interpreter counts; without one that part is skipped.
. "$(dirname "$0")/lib.sh"

D="$top_srcdir/examples/digits"
DIGITS="$D/digits-cnn.onnx"

# The accuracy that the README records: "... **444/450** = 98.67%".
line=$(grep -m 1 '^Float accuracy.*\*\*[0-9][0-9]*/[0-9][0-9]*\*\*' "$D/README.md")
want=$(printf '%s\n' "$line" | sed 's/^[^*]*\*\*\([0-9]*\)\/\([0-9]*\)\*\*.*/\1/')
total=$(printf '%s\n' "$line" | sed 's/^[^*]*\*\*\([0-9]*\)\/\([0-9]*\)\*\*.*/\2/')
if [ -z "$line" ]; then
    echo "error: $D/README.md has no line 'Float accuracy ... **CORRECT/TOTAL** ...'"
    exit 99
fi
echo "recorded in the README: $want/$total"

# top1 MODEL: the number of held-out images that MODEL classifies right, with
# mof's interpreter (empty when the comparison table has no logits row).
top1() {
    mof_run exec "$1" --inputs "$D/test" --expect "$D/test"
    sed -n "s/^logits  *float\[$total,10\] .* \([0-9][0-9]*\)\/$total  *FAIL .*/\1/p" \
        "$TMP/stdout"
}

# at_least GOT: GOT correct is at most 0.1 points below the recorded accuracy,
# i.e. GOT * 1000 >= (want - total / 1000) * 1000.
at_least() {
    [ -n "$1" ] && [ $(($1 * 1000)) -ge $((want * 1000 - total)) ]
}

# (a) The committed model, on the committed test set, by the interpreter.
got=$(top1 "$DIGITS")
if at_least "$got"; then
    pass "mof exec: $got/$total held-out images right (recorded: $want/$total)"
else
    fail "mof exec: '${got:-no count}'/$total right, recorded $want/$total (at most 0.1 points less)"
    show_output
fi
# The calibration folder is an inputs folder: input.npy, a batch of 100.
expect_status 0 "the calibration folder loads as inputs" exec "$DIGITS" --inputs "$D/calib"
expect_match stdout '^output 0: logits float\[100,10\] ' "and gives 100 rows of logits"

# (b) optimize.xml fuses the four BatchNormalizations and keeps every prediction.
expect_status 0 "optimize.xml on the digits CNN" run "$PIPELINES/optimize.xml" "$DIGITS" \
    -o "$TMP/opt"
expect_match stderr '^fuse-conv-bn .* conv-bn=4$' "fuse-conv-bn fused the 4 Conv+BN pairs"
OPT="$TMP/opt/model.onnx"
"$MOF" info "$OPT" >"$TMP/info" 2>&1
expect_no_match "$TMP/info" '^  BatchNormalization ' "no BatchNormalization is left"
expect_match "$TMP/info" '^  input  float\[N,1,8,8\]$' "the batch dimension stays dynamic"
got_opt=$(top1 "$OPT")
expect_equal "$got_opt" "$got" "the optimized model classifies as many right"
expect_status 0 "mof verify on the held-out images" verify "$DIGITS" "$OPT" \
    --inputs "$D/test" --rtol 1e-4 --atol 1e-4
expect_match stdout "^logits  *float\[$total,10\] .* $total/$total  *ok$" \
    "every prediction is the same (top-1 $total/$total)"

# With Python: the files agree, and ONNX Runtime counts what the interpreter counts.
# An explicit $MOF_PYTHON that cannot import them is a broken setup: a failed check.
py=${MOF_PYTHON:-$top_srcdir/.venv/bin/python}
if [ -n "${MOF_PYTHON:-}" ] && ! "$py" -c 'import numpy, onnxruntime' 2>/dev/null; then
    fail "MOF_PYTHON=$py cannot import numpy and onnxruntime"
elif [ -x "$py" ] && "$py" -c 'import numpy, onnxruntime' 2>/dev/null; then
    check "test/logits.npy is test/labels.npy one-hot, shapes as documented" "$py" -c '
import sys, numpy as np
d = sys.argv[1]
x, y, oh = (np.load(d + "/test/" + f) for f in ("input.npy", "labels.npy", "logits.npy"))
cx, cy = np.load(d + "/calib/input.npy"), np.load(d + "/calib/labels.npy")
ok = (x.dtype == np.float32 and x.shape == (len(y), 1, 8, 8) and y.dtype == np.int64
      and oh.dtype == np.float32 and (oh == np.eye(10, dtype=np.float32)[y]).all()
      and cx.dtype == np.float32 and cx.shape == (len(cy), 1, 8, 8)
      and cy.dtype == np.int64 and 0 <= x.min() and x.max() <= 1 and cx.max() <= 1)
sys.exit(0 if ok else 1)' "$D"
    for m in "$DIGITS" "$OPT"; do
        ort=$("$py" "$D/eval_digits.py" --json "$m" 2>"$TMP/eval.err" |
              sed -n 's/^ *"correct": \([0-9]*\),$/\1/p')
        if [ -n "$ort" ] && [ "$ort" = "$got" ]; then
            pass "ONNX Runtime (eval_digits.py): $ort/$total right on $(basename "$m")"
        else
            fail "ONNX Runtime (eval_digits.py) on $m: '${ort}', mof: $got"
            sed 's/^/    | /' "$TMP/eval.err"
        fi
    done
else
    echo "skip: no Python with numpy and onnxruntime (set MOF_PYTHON): ONNX Runtime part"
fi

finish
