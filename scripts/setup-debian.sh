#!/usr/bin/env bash
# Installs what Minka needs to build, test and run on Debian/Ubuntu.
# Idempotent: installs only the packages that are missing.
set -euo pipefail

packages=(
  build-essential meson ninja-build pkg-config gettext
  libglib2.0-dev libjson-glib-dev libgtk-3-dev check
  xvfb xauth curl chromium dataset-fashion-mnist
)
# Optional: only the benchmarks use these (comparison baselines).
optional=(libopenblas-dev python3-torch wrk)

want=("${packages[@]}")
if [ "${MINKA_BENCH_DEPS:-0}" = 1 ]; then want+=("${optional[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
