#!/usr/bin/env bash
# The Debian package: built with CPack from this build, unpacked into an empty
# root (what dpkg -i would install), and the installed binary run there: its
# version, an installed example plan validated, the man page and completions
# present, the run-time libraries declared. Usage: package_test.sh BUILD_DIR
set -euo pipefail
build_dir="$1"
# scripts/setup.sh installs these; under CI=true a missing one fails the test.
for tool in cpack dpkg-deb dpkg-shlibdeps help2man; do
  command -v "$tool" > /dev/null && continue
  [[ "${CI:-}" == true ]] && { echo "FAILED: $tool is not installed (scripts/setup.sh installs it)"; exit 1; }
  echo "SKIP: $tool is not installed"; exit 77
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cpack --config "$build_dir/CPackConfig.cmake" -B "$work/out" > "$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; exit 1; }
deb=$(ls "$work"/out/fleetrun_*.deb)
root="$work/root"
dpkg-deb -x "$deb" "$root"
fail() { echo "FAILED: $*"; exit 1; }
"$root/usr/bin/fleetrun" --version | grep -qx "fleetrun [0-9.]*" || fail "--version"
"$root/usr/bin/fleetrun" validate "$root/usr/share/fleetrun/examples/reboot-site.yaml" || fail "validate an installed example"
[[ -s "$root/usr/share/fleetrun/plan.schema.json" ]] || fail "plan schema"
[[ -s "$root/usr/share/bash-completion/completions/fleetrun" ]] || fail "bash completion"
[[ -s "$root/usr/share/zsh/vendor-completions/_fleetrun" ]] || fail "zsh completion"
grep -q "apply" "$root/usr/share/man/man1/fleetrun.1" || fail "man page"
depends=$(dpkg-deb -f "$deb" Depends)
for library in libpoconetssl80 libyaml-cpp0.7 libsqlite3-0; do
  [[ "$depends" == *"$library"* ]] || fail "Depends lacks $library: $depends"
done
echo "ok: $(basename "$deb") installs /usr/bin/fleetrun ($("$root/usr/bin/fleetrun" --version)); Depends: $depends"
