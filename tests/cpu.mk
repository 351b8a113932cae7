# Tests of the cpu backend (plugins/cpu/): emit, build and run artifacts.
TESTS += tests/cli/cpu.sh
dist_check_SCRIPTS += tests/cli/cpu.sh
EXTRA_DIST += examples/pipelines/cpu.xml
EXTRA_DIST += tests/bench/cpu_portable_profile.sh
