#!/bin/sh
# check-po.sh — fails when the Spanish translation is incomplete: every
# source file with translatable strings must be listed in po/POTFILES, and
# po/es.po must translate every message of the sources (no fuzzy or
# untranslated entries). Usage: check-po.sh SOURCE_ROOT. Exits 77 (skip)
# when the gettext tools are missing.
set -u
src=${1:?usage: check-po.sh SOURCE_ROOT}
po="$src/po/es.po"
potfiles="$src/po/POTFILES"
fail=0

command -v msgfmt >/dev/null 2>&1 || { echo "msgfmt not found: skipping"; exit 77; }

# 1. es.po compiles cleanly and has only translated messages.
stats=$(LC_ALL=C msgfmt --check --statistics -o /dev/null "$po" 2>&1) || {
  echo "msgfmt --check failed on $po:"; echo "$stats"; exit 1; }
echo "es.po: $stats"
case $stats in
  *fuzzy*|*untranslated*) echo "FAIL: $po has fuzzy or untranslated messages"; fail=1 ;;
esac

# 2. Every source file with _( N_( C_( NC_( ngettext( g_dngettext( is in
#    POTFILES (tests/, .git and meson build folders are skipped), and every
#    listed file exists.
listed=$(grep -v '^[[:space:]]*#' "$potfiles" | grep -v '^[[:space:]]*$')
files=$(cd "$src" && find . \( -path ./tests -o -path ./.git -o -path ./subprojects \
          -o -type d -exec test -d '{}/meson-private' ';' \) -prune \
          -o -type f \( -name '*.c' -o -name '*.h' \) -print |
        sed 's|^\./||' | LC_ALL=C sort)
for f in $files; do
  if grep -qE '(^|[^A-Za-z0-9_])(_|N_|C_|NC_|g_dngettext|ngettext)[[:space:]]*\(' "$src/$f"; then
    printf '%s\n' "$listed" | grep -qxF "$f" || {
      echo "FAIL: $f has translatable strings but is not listed in po/POTFILES"; fail=1; }
  fi
done
for f in $listed; do
  [ -f "$src/$f" ] || { echo "FAIL: po/POTFILES lists $f, which does not exist"; fail=1; }
done

# 3. es.po translates every message the sources have today (catches strings
#    added to the code after the last translation update).
if [ $fail -eq 0 ] && command -v xgettext >/dev/null 2>&1 && command -v msgcmp >/dev/null 2>&1; then
  tmp=$(mktemp -d) || exit 1
  trap 'rm -rf "$tmp"' EXIT
  (cd "$src" && xgettext --from-code=UTF-8 --language=C --keyword=_ --keyword=N_ \
     --keyword=C_:1c,2 --keyword=NC_:1c,2 --keyword=g_dngettext:2,3 \
     --keyword=ngettext:1,2 --files-from=po/POTFILES -o "$tmp/minka.pot") 2>"$tmp/xgettext.log" || {
    cat "$tmp/xgettext.log"; exit 1; }
  if ! LC_ALL=C msgcmp "$po" "$tmp/minka.pot" 2>"$tmp/msgcmp.log"; then
    echo "FAIL: po/es.po lacks translations of messages in the sources:"
    cat "$tmp/msgcmp.log"; fail=1
  fi
fi

[ $fail -eq 0 ] && echo "PASS: po/es.po is complete and po/POTFILES lists every file"
exit $fail
