#!/usr/bin/env bash
# Installs what the integration tests and the demo need, only when missing:
#   mosquitto      the MQTT broker, from Debian's package (apt-get, as root)
#   chromium, fonts-noto-cjk   for the report screenshot test (apt-get)
#   postgresql     PostgreSQL 15, the access database's production engine
#                  (apt-get); tests run its initdb and postgres themselves
#   influxd 1.8.3  built with `go install` into .cache/bin (git-ignored)
#
# Progress goes to stderr. Stdout carries shell exports naming the binaries,
# so callers can do:  eval "$(bash scripts/install-deps.sh)"
#
# Note: on some systems Debian's package starts a mosquitto service on port
# 1883. Tests and the demo start their own brokers on other loopback ports,
# so that service is harmless to them; stop it if you do not want it
# (systemctl disable --now mosquitto).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

say() { printf 'install-deps: %s\n' "$*" >&2; }

influxd_pkg=github.com/influxdata/influxdb/cmd/influxd@v1.8.3

# --- Debian packages ----------------------------------------------------------
# mosquitto: the broker of the integration tests. chromium and
# fonts-noto-cjk: the report test renders the regulators' monthly report
# (Chinese text) in headless Chromium and saves a screenshot. postgresql:
# the access database's tests start their own server from its binaries
# (initdb, postgres; the package's own cluster service is not used).
apt_missing=()
if [[ -n "${CW_MOSQUITTO:-}" ]]; then
	[[ -x "$CW_MOSQUITTO" ]] || { say "CW_MOSQUITTO=$CW_MOSQUITTO is not executable"; exit 1; }
	mosquitto=$CW_MOSQUITTO
elif [[ -x /usr/sbin/mosquitto ]]; then
	mosquitto=/usr/sbin/mosquitto
elif command -v mosquitto >/dev/null 2>&1; then
	mosquitto=$(command -v mosquitto)
else
	mosquitto=/usr/sbin/mosquitto
	apt_missing+=(mosquitto)
fi
[[ -x /usr/bin/chromium ]] || apt_missing+=(chromium)
if [[ -n "${CW_PG_BIN:-}" ]]; then
	[[ -x "$CW_PG_BIN/postgres" ]] || { say "CW_PG_BIN=$CW_PG_BIN has no postgres executable"; exit 1; }
	pg_bin=$CW_PG_BIN
else
	pg_bin=/usr/lib/postgresql/15/bin
	[[ -x "$pg_bin/postgres" && -x "$pg_bin/initdb" ]] || apt_missing+=(postgresql)
fi
[[ -d /usr/share/fonts/opentype/noto ]] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 || apt_missing+=(fonts-noto-cjk)
if ((${#apt_missing[@]} > 0)); then
	if [[ $(id -u) -ne 0 ]]; then
		say "missing Debian packages: ${apt_missing[*]}. Install them, then run this again:"
		say "  sudo apt-get install -y ${apt_missing[*]}"
		exit 1
	fi
	say "installing with apt-get: ${apt_missing[*]} (chromium takes a few minutes)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >&2
	say "note: the mosquitto package may have started a service on port 1883, and postgresql one on 5432; tests use their own ports"
fi

# --- influxd -------------------------------------------------------------------
if [[ -n "${CW_INFLUXD:-}" ]]; then
	[[ -x "$CW_INFLUXD" ]] || { say "CW_INFLUXD=$CW_INFLUXD is not executable"; exit 1; }
	influxd=$CW_INFLUXD
else
	influxd=$root/.cache/bin/influxd
	if [[ ! -x "$influxd" ]]; then
		command -v go >/dev/null 2>&1 || { say "go is not on PATH; it is needed to build influxd"; exit 1; }
		say "building $influxd_pkg into .cache/bin (about a minute)"
		# Build into a private directory and rename, so a concurrent run never
		# sees a half-written binary.
		mkdir -p "$root/.cache/bin"
		tmp=$(mktemp -d "$root/.cache/bin/.install-XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		GOBIN=$tmp go install "$influxd_pkg" >&2
		mv -f "$tmp/influxd" "$influxd"
	fi
fi

say "mosquitto: $mosquitto ($("$mosquitto" -h 2>&1 | head -n 1 || true))"
say "influxd:   $influxd"
say "postgres:  $pg_bin ($("$pg_bin/postgres" --version 2>&1 || true))"
printf 'export CW_MOSQUITTO=%q\n' "$mosquitto"
printf 'export CW_INFLUXD=%q\n' "$influxd"
printf 'export CW_PG_BIN=%q\n' "$pg_bin"
