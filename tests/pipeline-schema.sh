#!/bin/sh
# pipeline-schema.sh: the schema mof installs (core/pipeline.rng) agrees with what mof
# itself accepts: it validates the well-formed test pipelines and the examples (those
# whose errors are semantic, not structural), and refuses the structural errors of
# schema.xml. Checked with xmllint; skipped (77) when it is not installed.
set -u
: "${top_srcdir:=.}"
xmllint=$(command -v xmllint) || { echo "xmllint not found: skipped"; exit 77; }
rng="$top_srcdir/core/pipeline.rng"
data="$top_srcdir/tests/data/pipelines"
failed=0
checks=0

check() {
    expect=$1
    file=$2
    checks=$((checks + 1))
    if "$xmllint" --noout --nonet --relaxng "$rng" "$file" >/dev/null 2>&1; then
        got=valid
    else
        got=invalid
    fi
    if [ "$got" = "$expect" ]; then
        echo "ok: $file is $expect"
    else
        echo "FAIL: $file is $got, expected $expect"
        "$xmllint" --noout --nonet --relaxng "$rng" "$file" 2>&1 | sed 's/^/    | /'
        failed=$((failed + 1))
    fi
}

for name in valid unknown-pass wrong-type range many-errors contracts plugin; do
    check valid "$data/$name.xml"
done
check invalid "$data/schema.xml"
check invalid "$data/syntax.xml"
for file in "$top_srcdir"/examples/pipelines/*.xml; do
    [ -e "$file" ] && check valid "$file"
done
echo "$checks checks, $failed failed"
[ "$failed" -eq 0 ]
