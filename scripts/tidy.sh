#!/usr/bin/env bash
# clang-tidy with the checks in .clang-tidy over every product source file
# (tests and benchmarks excluded), two at a time; any finding fails.
# Debian 12's default clang-tidy (14) cannot read C++23 with GCC 12's
# <expected>; clang-tidy-19 (bookworm's) can. Usage: scripts/tidy.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${1:-build}"
tidy=$(command -v clang-tidy-19 || true)
if [[ -z "$tidy" ]]; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends clang-tidy-19 > /dev/null
  tidy=clang-tidy-19
fi
[[ -f "$build_dir/compile_commands.json" ]] || { echo "no $build_dir/compile_commands.json: build first"; exit 1; }
# The build's compiler flags are GCC's: -Wshadow=local is unknown to clang,
# and with -DFLEETRUN_WERROR=ON (CI's build) -Werror would turn that and
# clang's own warnings (libstdc++'s deprecated get_temporary_buffer) into
# errors. Findings of the checks above are errors all the same (WarningsAsErrors).
git ls-files '*.cpp' | grep -vE '^(tests|bench)/' |
  xargs -P2 -n8 "$tidy" -p "$build_dir" --quiet --extra-arg=-Wno-unknown-warning-option --extra-arg=-Wno-error
echo "clang-tidy: no findings"
