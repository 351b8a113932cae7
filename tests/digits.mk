# The digits CNN of examples/digits: a small model trained on real data (scikit-learn's
# handwritten digits), its held-out test set and its calibration set. tests/cli/digits.sh
# checks its accuracy with mof's interpreter against the README and that optimize.xml
# keeps every prediction (ONNX Runtime's count too when a Python with onnxruntime is
# found). tests/bench/run-digits-quant.sh (not run by make check) compares mof's and
# ONNX Runtime's post-training quantization on it.
TESTS += tests/cli/digits.sh
dist_check_SCRIPTS += tests/cli/digits.sh
EXTRA_DIST += \
	examples/digits/README.md \
	examples/digits/train_digits.py \
	examples/digits/eval_digits.py \
	examples/digits/digits-cnn.onnx \
	examples/digits/test/input.npy \
	examples/digits/test/labels.npy \
	examples/digits/test/logits.npy \
	examples/digits/calib/input.npy \
	examples/digits/calib/labels.npy \
	tests/bench/digits_quant.py \
	tests/bench/run-digits-quant.sh
