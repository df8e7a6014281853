#!/usr/bin/env bash
# Builds Minka and runs every test suite: a normal build (warnings are
# errors) and an AddressSanitizer + UndefinedBehaviorSanitizer build.
# Usage: scripts/test.sh [--benchmark]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh

configure () {  # dir, extra meson options...
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@"
  fi
}

# GUI tests need a display: start a private Xvfb when there is none.
if [ -z "${DISPLAY:-}" ] && command -v Xvfb >/dev/null; then
  Xvfb :97 -screen 0 1280x1024x24 -nolisten tcp >/dev/null 2>&1 &
  xvfb_pid=$!
  trap 'kill $xvfb_pid 2>/dev/null || true' EXIT
  export DISPLAY=:97
fi

configure build --werror
meson compile -C build
meson test -C build --print-errorlogs --num-processes 2

configure build-sanitize --werror -Db_sanitize=address,undefined -Db_lundef=false
meson compile -C build-sanitize
meson test -C build-sanitize --print-errorlogs --num-processes 2

if [ "${1:-}" = "--benchmark" ]; then
  meson test -C build --benchmark --print-errorlogs --verbose
fi
