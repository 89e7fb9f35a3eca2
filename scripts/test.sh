#!/usr/bin/env bash
# The project's test command: installs the broker and InfluxDB when missing,
# then vets and tests with every integration test required to run (a missing
# service fails instead of skipping).
#
#   scripts/test.sh                               everything (./...)
#   scripts/test.sh -run TestTestenv ./internal/...   flags pass through; any
#                                                 package argument replaces ./...
#   scripts/test.sh -short                        unit tests only
#
# Works from any directory. Each test starts its own mosquitto and influxd on
# free loopback ports and stops them; nothing is left running. A mosquitto
# system service on port 1883 (started by Debian's package on some systems)
# does not interfere.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# An assignment, not eval "$(...)" directly, so that a failed install stops
# the script under set -e.
deps=$(bash scripts/install-deps.sh)
eval "$deps"
export CW_REQUIRE_INTEGRATION=1

# Package arguments (./x, ../x, the module path) replace the default list;
# anything else is a flag or a flag's value and is passed through.
pkgs=(./...)
for arg in "$@"; do
	case $arg in
	. | ./* | .. | ../* | github.com/cradlewatch/cradlewatch*) pkgs=() ;;
	esac
done
vet_pkgs=()
if ((${#pkgs[@]} == 0)); then
	for arg in "$@"; do
		case $arg in
		. | ./* | .. | ../* | github.com/cradlewatch/cradlewatch*) vet_pkgs+=("$arg") ;;
		esac
	done
else
	vet_pkgs=(./...)
fi

echo "+ go vet ${vet_pkgs[*]}" >&2
go vet "${vet_pkgs[@]}"

# The summariser is built first, so its build does not interleave with the
# tests' output; it prints go test's usual lines, then the skipped tests with
# their reasons, the slowest tests and "N passed, N failed, N skipped".
summary=$(mktemp -d)/testsummary
trap 'rm -rf "$(dirname "$summary")"' EXIT
go build -o "$summary" ./internal/tools/testsummary

cmd=(go test -json -count=1 -timeout 20m ${pkgs[@]+"${pkgs[@]}"} "$@")
echo "+ ${cmd[*]}" >&2
set +e
"${cmd[@]}" | "$summary"
rc=$((PIPESTATUS[0] | PIPESTATUS[1]))
set -e
echo "go test exit code: $rc" >&2
exit "$rc"
