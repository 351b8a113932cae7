#!/bin/sh
# help.sh: mof --help, --version, the help of every command, and the man page.
. "$(dirname "$0")/lib.sh"

commands="run info print validate plugins passes backends help"

expect_status 0 "mof --help" --help
cp "$TMP/stdout" "$TMP/main-help"
expect_match stdout '^Usage: mof COMMAND' "--help starts with the usage line"
for c in $commands; do
    expect_match "$TMP/main-help" "^  $c( |\$)" "--help lists the command '$c'"
done
expect_match "$TMP/main-help" '^  0  success' "--help documents exit status 0"
expect_match "$TMP/main-help" '^  1  the run failed' "--help documents exit status 1"
expect_match "$TMP/main-help" '^  2  usage error' "--help documents exit status 2"
expect_match "$TMP/main-help" '^  3  bad input' "--help documents exit status 3"
expect_match "$TMP/main-help" '^  4  plugin loading error' "--help documents exit status 4"
expect_match "$TMP/main-help" 'MOF_PLUGIN_PATH' "--help documents MOF_PLUGIN_PATH"
expect_status 0 "mof -h" -h
expect_status 0 "mof help" help
check "'mof help' prints what 'mof --help' does" cmp -s "$TMP/stdout" "$TMP/main-help"

expect_status 0 "mof --version" --version
expect_match stdout '^mof [0-9]+\.[0-9]+\.[0-9]+ \(plugin ABI [0-9]+\)$' \
    "--version shows the version and the plugin ABI"
expect_status 0 "mof -V" -V

for c in $commands; do
    expect_status 0 "mof help $c" help "$c"
    cp "$TMP/stdout" "$TMP/help-$c"
    expect_match stdout "^Usage: mof $c" "'mof help $c' starts with its usage"
    expect_status 0 "mof $c --help" "$c" --help
    check "'mof $c --help' prints what 'mof help $c' does" cmp -s "$TMP/stdout" "$TMP/help-$c"
done
expect_status 0 "mof run -h" run -h

expect_status 2 "mof with no command"
expect_match stderr '^mof: missing a command' "mof with no command says so"
expect_status 2 "an unknown command" frobnicate
expect_match stderr "^mof: unknown command 'frobnicate'" "the unknown command is named"
expect_status 2 "a misspelled command" pases
expect_match stderr "did you mean 'passes'\\?" "the closest command is suggested"
expect_status 2 "help about an unknown command" help nope
expect_status 2 "an unknown global option" --frob
expect_match stderr "unknown option '--frob'" "the unknown option is named"

# The man page: it renders, and documents every command and every long option.
man1="$top_srcdir/core/cli/mof.1"
if command -v man >/dev/null 2>&1 && man -l "$man1" >/dev/null 2>&1; then
    MANWIDTH=80 LC_ALL=C.UTF-8 man -l "$man1" >"$TMP/man.txt" 2>"$TMP/man.err"
    check "mof.1 renders with man -l" test -s "$TMP/man.txt"
elif command -v groff >/dev/null 2>&1; then
    groff -man -Tutf8 -ww "$man1" >"$TMP/man.txt" 2>"$TMP/man.err"
    check "mof.1 renders with groff" test -s "$TMP/man.txt"
    check "groff renders mof.1 without warnings" test ! -s "$TMP/man.err"
    sed 's/^/    | /' "$TMP/man.err"
else
    echo "note: neither man nor groff is installed; checking the source of mof.1 only"
fi
expect_match "$man1" '^\.TH MOF 1 ' "mof.1 has a .TH header"
for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS ENVIRONMENT 'EXIT STATUS' PLUGINS; do
    expect_match "$man1" "^\\.SH \"?$s\"?\$" "mof.1 has the section $s"
done
for c in $commands; do
    expect_match "$man1" "^\\.(B|BR|BI) \"?$c( |\"|\$)" "mof.1 documents the command '$c'"
done
# Every long option of every command's help is in the man page (hyphens escaped).
cat "$TMP"/help-* "$TMP/main-help" | grep -Eo -- '--[a-z][a-z-]*' | sort -u >"$TMP/options"
while read -r opt; do
    escaped=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
    expect_match "$man1" "$escaped" "mof.1 documents $opt"
done <"$TMP/options"
expect_match "$man1" 'MOF_PLUGIN_PATH' "mof.1 documents MOF_PLUGIN_PATH"
for code in 0 1 2 3 4; do
    expect_match "$man1" "^\\.B $code\$" "mof.1 documents exit status $code"
done

finish
