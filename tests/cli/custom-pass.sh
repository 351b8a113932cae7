#!/bin/sh
# custom-pass.sh: the out-of-tree example plugin (examples/custom-pass) builds with
# nothing but its Makefile and pkg-config against an installed mof, and runs.
#
# mof is installed into a staging folder (make install DESTDIR=...), pkg-config is
# pointed at it (PKG_CONFIG_PATH, and PKG_CONFIG_SYSROOT_DIR so that the flags of
# mof.pc, written for the configured prefix, point into the staging folder), and the
# example is built in a copy of its folder. The in-tree mof then runs the example's
# pipeline, which loads the plugin through its <plugin path="./rename-nodes.so"/>.
. "$(dirname "$0")/lib.sh"

make_cmd=${MAKE:-make}
cc_cmd=${CC:-cc}
for tool in "$make_cmd" "$cc_cmd" pkg-config; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "skipped: $tool is not installed"
        exit 77
    fi
done

# A make run by this test must not talk to the jobserver of the make running it.
unset MAKEFLAGS MFLAGS MAKELEVEL

dest="$TMP/dest"
if "$make_cmd" -C "$top_builddir" install DESTDIR="$dest" >"$TMP/install.log" 2>&1; then
    pass "make install DESTDIR=staging"
else
    fail "make install DESTDIR=staging failed:"
    tail -n 30 "$TMP/install.log" | sed 's/^/    | /'
    finish
fi
pc=$(find "$dest" -name mof.pc | head -n 1)
if [ -n "$pc" ]; then
    pass "mof.pc is installed ($pc)"
else
    fail "no mof.pc under $dest"
    finish
fi
check "the SDK headers are installed" test -n "$(find "$dest" -path '*/include/mof/mof.h')"
PKG_CONFIG_PATH=$(dirname "$pc")
PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
libmof=$(find "$dest" -name libmof.so | head -n 1)
check "libmof.so is installed ($libmof)" test -n "$libmof"
staged_libdir=$(dirname "$libmof")
flags=$(pkg-config --cflags --libs mof)
case $flags in
*"$dest"*) pass "pkg-config gives flags into the staging folder: $flags" ;;
*) fail "pkg-config flags do not point into $dest: $flags" ;;
esac

# Build the example in a copy of its folder, as a user would in theirs.
mkdir "$TMP/custom-pass"
for f in Makefile rename_nodes.c pipeline.xml README.md; do
    cp "$top_srcdir/examples/custom-pass/$f" "$TMP/custom-pass/$f"
done
if "$make_cmd" -C "$TMP/custom-pass" CC="$cc_cmd" >"$TMP/build.log" 2>&1; then
    pass "the example builds with its Makefile"
else
    fail "the example does not build:"
    sed 's/^/    | /' "$TMP/build.log"
    finish
fi
plugin="$TMP/custom-pass/rename-nodes.so"
check "it built rename-nodes.so" test -f "$plugin"
if grep -q -- '-Wall' "$TMP/build.log" && ! grep -q 'warning:' "$TMP/build.log"; then
    pass "it builds without warnings"
else
    fail "the build warns:"
    sed 's/^/    | /' "$TMP/build.log"
fi
if command -v nm >/dev/null 2>&1; then
    exported=$(nm -D --defined-only "$plugin" | awk '$2 == "T" { print $3 }')
    expect_equal "$exported" mof_plugin_entry "the plugin exports only its entry point"
fi

# Run it with the in-tree mof. The plugin links the staged libmof, which the running
# mof has already loaded under the same soname.
LD_LIBRARY_PATH="$staged_libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
expect_status 0 "mof run pipeline.xml with the plugin" run "$TMP/custom-pass/pipeline.xml" \
    "$MODEL" -o "$TMP/out.onnx"
expect_match stderr 'rename-nodes' "the report shows rename-nodes"
expect_match stderr 'nodes-renamed' "the report shows nodes-renamed"
expect_status 0 "the output loads" info "$TMP/out.onnx"
expect_equal "$(info_field "$TMP/out.onnx" nodes)" 9 "the cleanup passes ran too"
# Node names are plain strings in the protobuf.
for name in cnn/Conv_0 cnn/BatchNormalization_1 cnn/Relu_2 cnn/Gemm_8; do
    check "a node is named $name" grep -q "$name" "$TMP/out.onnx"
done
expect_status 0 "the plugin in a --plugin-dir" plugins --plugin-dir "$TMP/custom-pass"
expect_match stdout '^  rename-nodes 1\.0\.0: 1 pass, 0 backends' "mof plugins lists it"
expect_status 0 "mof passes rename-nodes" passes --plugin-dir "$TMP/custom-pass" rename-nodes
expect_match stdout 'prefix' "its parameter prefix is described"
expect_status 2 "a bad value for its parameter" run --plugin-dir "$TMP/custom-pass" \
    --passes 'rename-nodes(all=maybe)' "$MODEL" -o "$TMP/bad.onnx"
expect_match stderr "all" "the parameter is named"

"$make_cmd" -C "$TMP/custom-pass" clean >/dev/null 2>&1
check "make clean removes rename-nodes.so" test ! -e "$plugin"

finish
