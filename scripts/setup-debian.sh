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
optional=(libopenblas-dev python3-torch wrk etcd-server)

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

# etcd-server (bench-cluster's baseline) enables and starts a system etcd on
# 127.0.0.1:2379/2380; the benchmark runs its own members on free ports, so
# stop and disable the service if we just installed it.
if printf '%s\n' "${missing[@]}" | grep -qx etcd-server; then
  if [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now etcd.service || true
  else
    $sudo service etcd stop >/dev/null 2>&1 || true
    $sudo update-rc.d etcd disable >/dev/null 2>&1 || true
  fi
fi
