#!/usr/bin/env bash
# Fails when a tracked C++ file differs from what clang-format (the repository's .clang-format)
# makes of it, naming the files. Fix with: git ls-files '*.cpp' '*.h' '*.inc' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "format_check.sh: clang-format is missing (scripts/setup.sh installs it)" >&2; exit 1; }
bad=$(git ls-files '*.cpp' '*.h' '*.inc' | xargs clang-format --dry-run 2>&1 | grep -o '^[^:]*:[0-9]*:[0-9]*: warning' | cut -d: -f1 | sort -u || true)
if [ -n "$bad" ]; then
  echo "format_check.sh: these files are not clang-format clean:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "format_check.sh: $(git ls-files '*.cpp' '*.h' '*.inc' | wc -l) files clang-format clean"
