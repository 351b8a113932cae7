#!/bin/sh
# Fuzzes the ONNX text parser (mof_model_parse_text) and what follows a successful
# load, for $MOF_FUZZ_SECONDS seconds (default 15): see tests/fuzz/README.md.
exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/fuzz/run-driver.sh" text
