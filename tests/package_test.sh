#!/usr/bin/env bash
# The Debian package: built with CPack from this build, checked by lintian
# (no error, no warning), unpacked into an empty root (what dpkg -i would
# install), and what it installs used there: the binary runs and validates an
# installed example; the manual pages answer exit codes, environment, files
# and resuming, and fleetrun-apply(1) lists every option `apply --help` has;
# the systemd template units pass systemd-analyze verify as an instance; the
# run-time libraries are declared. Usage: package_test.sh BUILD_DIR
set -euo pipefail
build_dir="$1"
# scripts/setup.sh installs these; under CI=true a missing one fails the test.
for tool in cpack dpkg-deb dpkg-shlibdeps lintian systemd-analyze; do
  command -v "$tool" > /dev/null && continue
  [[ "${CI:-}" == true ]] && { echo "FAILED: $tool is not installed (scripts/setup.sh installs it)"; exit 1; }
  echo "SKIP: $tool is not installed"; exit 77
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cpack --config "$build_dir/CPackConfig.cmake" -B "$work/out" > "$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; exit 1; }
deb=$(ls "$work"/out/fleetrun_*.deb)
fail() { echo "FAILED: $*"; exit 1; }

# Debian's checker: errors and warnings fail; informational and pedantic tags
# are printed (there are none today).
lintian -I --pedantic --fail-on error,warning "$deb" > "$work/lintian.txt" 2>&1 || { cat "$work/lintian.txt"; fail "lintian"; }
echo "lintian: no error, no warning"; cat "$work/lintian.txt"

root="$work/root"
dpkg-deb -x "$deb" "$root"
bin="$root/usr/bin/fleetrun"
"$bin" --version | grep -qx "fleetrun [0-9.]*" || fail "--version"
"$bin" validate "$root/usr/share/fleetrun/examples/reboot-site.yaml" || fail "validate an installed example"
[[ -s "$root/usr/share/fleetrun/plan.schema.json" ]] || fail "plan schema"
[[ -s "$root/usr/share/bash-completion/completions/fleetrun" ]] || fail "bash completion"
[[ -s "$root/usr/share/zsh/vendor-completions/_fleetrun" ]] || fail "zsh completion"
for doc in copyright changelog.gz SCHEDULING.md PLAN-FORMAT.md CLI.md; do
  [[ -s "$root/usr/share/doc/fleetrun/$doc" ]] || fail "/usr/share/doc/fleetrun/$doc"
done

# The manual pages.
man1="$root/usr/share/man/man1"
page() { zcat "$1" || fail "cannot read $1"; }
main=$(page "$man1/fleetrun.1.gz")
for section in "EXIT STATUS" ENVIRONMENT FILES EXAMPLES COMMANDS; do
  grep -q "^\.SH $section" <<< "$main" || fail "fleetrun(1) has no $section"
done
for code in 0 1 2 3 4 5 70 75 130; do
  grep -qx "\.B $code" <<< "$main" || fail "fleetrun(1)'s EXIT STATUS lacks $code"
done
for variable in LOSANT_API_URL LOSANT_APPLICATION_ID LOSANT_API_TOKEN; do
  grep -q "$variable" <<< "$main" || fail "fleetrun(1)'s ENVIRONMENT lacks $variable"
done
grep -q "fleetrun resume" <<< "$main" || fail "fleetrun(1) has no resume example"
grep -q "fleetrun.db" <<< "$main" || fail "fleetrun(1)'s FILES lacks the state file"
commands=$("$bin" --help | awk '/^Subcommands:/{on=1; next} on && /^  [a-z]/{print $1}')
(($(wc -w <<< "$commands") >= 10)) || fail "fleetrun --help lists too few commands: $commands"
for command in $commands; do
  [[ -s "$man1/fleetrun-$command.1.gz" ]] || fail "no fleetrun-$command(1)"
  grep -q "^\.B $command\$" <<< "$main" || fail "fleetrun(1)'s COMMANDS lacks $command"
done
apply=$(page "$man1/fleetrun-apply.1.gz" | sed 's/\\-/-/g')
options=$("$bin" apply --help | grep -oE -- '--[a-z][a-z-]*' | sort -u | grep -vx -- --help)
[[ -n "$options" ]] || fail "apply --help lists no options"
for option in $options; do
  grep -qE -- "^\.B (.*[ ,])?$option( |,|\$)" <<< "$apply" || fail "fleetrun-apply(1) does not list $option"
done
[[ -s "$root/usr/share/man/man5/fleetrun-plan.5.gz" ]] || fail "no fleetrun-plan(5)"
page "$root/usr/share/man/man5/fleetrun-plan.5.gz" | grep -q "batch_size" || fail "fleetrun-plan(5) lacks batch_size"

# The schedule: template units installed, verified as an instance with the
# installed binary in place of /usr/bin/fleetrun.
units="$root/usr/lib/systemd/system"
[[ -s "$units/fleetrun@.service" && -s "$units/fleetrun@.timer" ]] || fail "systemd template units"
sed "s#/usr/bin/fleetrun#$bin#" "$units/fleetrun@.service" > "$work/fleetrun@.service"
cp "$units/fleetrun@.timer" "$work/"
systemd-analyze verify --man=no "$work/fleetrun@nightly.service" "$work/fleetrun@nightly.timer" > "$work/verify.txt" 2>&1 \
  || { cat "$work/verify.txt"; fail "systemd-analyze verify"; }
[[ -s "$work/verify.txt" ]] && { cat "$work/verify.txt"; fail "systemd-analyze verify printed warnings"; }

depends=$(dpkg-deb -f "$deb" Depends)
for library in libpoconetssl80 libyaml-cpp0.7 libsqlite3-0; do
  [[ "$depends" == *"$library"* ]] || fail "Depends lacks $library: $depends"
done
echo "ok: $(basename "$deb") installs /usr/bin/fleetrun ($("$bin" --version)); Depends: $depends"
