#!/bin/sh
# Fuzzes the pipeline parser (mof_pipeline_load_buffer, mof_pipeline_parse_list) and what follows a successful
# load, for $MOF_FUZZ_SECONDS seconds (default 15): see tests/fuzz/README.md.
exec "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/fuzz/run-driver.sh" pipeline
