#!/bin/sh
# Fuzzes the ONNX loader (mof_model_load_buffer) and what follows a successful
# load, for $MOF_FUZZ_SECONDS seconds (default 15): see tests/fuzz/README.md.
exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/fuzz/run-driver.sh" onnx
