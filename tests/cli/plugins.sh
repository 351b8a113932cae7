#!/bin/sh
# plugins.sh: mof plugins, passes and backends list the in-tree plugins and describe
# their passes and backends.
. "$(dirname "$0")/lib.sh"

expect_status 0 "mof plugins" plugins
cp "$TMP/stdout" "$TMP/plugins"
expect_match "$TMP/plugins" '^plugin search path:$' "the search path is shown"
expect_match "$TMP/plugins" '^  cleanup [0-9.]+: [0-9]+ passes, 0 backends' "cleanup: its passes"
expect_match "$TMP/plugins" '^  onnx [0-9.]+: 0 passes, 1 backend' "onnx: 1 backend"
expect_match "$TMP/plugins" '^    /.*cleanup\.so$' "the cleanup plugin's file"
expect_match "$TMP/plugins" '^    /.*onnx\.so$' "the onnx plugin's file"
expect_no_match stderr . "no diagnostics"

expect_status 0 "mof passes" passes
expect_match stdout '^eliminate-identity +remove .* \(cleanup\)$' "eliminate-identity is listed"
expect_match stdout '^dead-code +remove .* \(cleanup\)$' "dead-code is listed"
check "passes are sorted by name" sort -c "$TMP/stdout"

expect_status 0 "mof passes dead-code" passes dead-code
expect_match stdout '^dead-code - ' "dead-code is described"
expect_match stdout 'keep-initializers' "its parameter keep-initializers"
expect_match stdout 'keep-unknown-domains' "its parameter keep-unknown-domains"
expect_match stdout '^  numerics: +exact' "it is exact"
expect_match stdout '^contracts:$' "its contracts"

expect_status 0 "mof passes eliminate-identity" passes eliminate-identity
expect_match stdout 'dropout' "its parameter dropout"

expect_status 0 "mof backends" backends
expect_match stdout '^onnx +write .* \(onnx\)$' "the onnx backend is listed"
expect_status 0 "mof backends onnx" backends onnx
expect_match stdout 'external-data' "its parameter external-data"
expect_match stdout 'keep' "its choice keep"
expect_match stdout 'above' "its choice above"
expect_match stdout 'external-threshold' "its parameter external-threshold"
expect_match stdout 'model\.onnx' "its default output"
expect_match stdout 'every operator of every domain' "it supports every operator"

expect_status 2 "an unknown pass" passes dead-cod
expect_match stderr "did you mean 'dead-code'" "the closest pass is suggested"
expect_status 2 "an unknown backend" backends onx
expect_match stderr "did you mean 'onnx'" "the closest backend is suggested"

# Running from the build tree, mof finds the built plugins without MOF_PLUGIN_PATH.
status=0
env -u MOF_PLUGIN_PATH "$MOF" plugins >"$TMP/stdout" 2>"$TMP/stderr" || status=$?
expect_equal "$status" 0 "mof plugins without MOF_PLUGIN_PATH"
expect_match stdout '^  cleanup ' "the build tree's cleanup plugin is found"
expect_match stdout 'running from the build tree' "the build tree's folders are used"

# --plugin-dir: an empty folder is fine and listed first; a missing one is an error.
mkdir "$TMP/empty"
expect_status 0 "--plugin-dir with an empty folder" plugins --plugin-dir "$TMP/empty"
first=$(sed -n '2p' "$TMP/stdout")
expect_equal "$first" "  $TMP/empty" "--plugin-dir comes first in the search path"
expect_status 4 "--plugin-dir with a missing folder" passes --plugin-dir "$TMP/nope"
expect_one_line_error "nope" "the missing folder is named"

# A file that is no plugin makes loading fail (exit 4), naming the file.
mkdir "$TMP/bad"
echo "not a shared object" >"$TMP/bad/broken.so"
expect_status 4 "a broken plugin" plugins --plugin-dir "$TMP/bad"
expect_match stderr "broken\\.so" "the broken plugin's file is named"
expect_match stdout '^  cleanup ' "the other plugins are still listed"

finish
