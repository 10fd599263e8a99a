#!/usr/bin/env bash
# Formats every C++ file in place with the checked-in .clang-format (CI checks it).
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files -co --exclude-standard '*.cpp' '*.hpp' | xargs clang-format -i
