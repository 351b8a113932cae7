# The cpu backend's oneDNN provider (kernels=onednn): artifacts built against
# libdnnl-dev and compared with the reference interpreter (skips without oneDNN).
TESTS += tests/cli/cpu-onednn.sh
dist_check_SCRIPTS += tests/cli/cpu-onednn.sh
EXTRA_DIST += tests/bench/run-cpu-latency.sh tests/bench/cpu_latency.py \
	tests/bench/onednn_conv_bench.c tests/bench/cpu-latency.xml
