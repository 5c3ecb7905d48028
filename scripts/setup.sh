#!/usr/bin/env bash
# Installs the Debian packages edgefit's build and tests need. Idempotent, non-interactive.
set -euo pipefail
pkgs=(build-essential cmake ninja-build ccache pkg-config
      libgtest-dev libgmock-dev libbenchmark-dev
      nlohmann-json3-dev libcli11-dev libfmt-dev libpcre2-dev libutf8proc-dev libeigen3-dev
      zlib1g-dev clang libclang-rt-14-dev clang-format
      chromium  # tests/report renders report.html in headless Chromium
      g++-aarch64-linux-gnu qemu-user file bc  # scripts/test_aarch64.sh
      jq)  # bench/side_by_side.sh reads llama-bench JSON
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
