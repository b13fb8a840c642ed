#!/usr/bin/env bash
# Install what Lucent needs to build and test on Debian 12: the build toolchain and C
# libraries (Debian packages), Redis for the redis engine tests, Chromium for the browser tests,
# and the npm packages of the integration tests. Idempotent: when everything is present it only
# checks and returns.
#
#   sudo scripts/deps.sh               everything (make test)
#   sudo scripts/deps.sh --build-only  what building and running need (make run, make install)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
itest="$repo/tests/integration"
build_only=false
[[ "${1:-}" == "--build-only" ]] && build_only=true

debs=(node-llhttp libluajit2-5.1-dev libuv1-dev libwslay-dev libcjson-dev libjwt-dev
      libcurl4-openssl-dev libhiredis-dev cmake pkg-config gcc make libssl-dev
      protobuf-c-compiler libprotobuf-c-dev)
if ! $build_only; then
    # chromium: the admin UI and chat example tests drive a headless browser (playwright-core);
    # curl and openssl: the TLS tests make a certificate and fetch with --cacert
    debs+=(libcmocka-dev redis-server clang-format luajit2 chromium curl openssl)
    # scripts/check.sh (clang-tidy) and scripts/fuzz.sh (clang with libFuzzer's runtime)
    debs+=(clang-tidy clang-14 libclang-rt-14-dev)
fi

# Node and npm may come from outside dpkg (nodesource, nvm, a tarball): only fall back to
# Debian's packages when the commands are missing, so a newer npm is never replaced.
if ! $build_only; then
    command -v node >/dev/null 2>&1 || debs+=(nodejs)
    command -v npm >/dev/null 2>&1 || debs+=(npm)
fi

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for p in "${debs[@]}"; do
    installed "$p" || missing+=("$p")
done

if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "deps: missing Debian packages: ${missing[*]}" >&2
        echo "deps: run this script as root (sudo $0) to install them" >&2
        exit 1
    fi
    echo "deps: installing ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "deps: Debian packages present"
fi

$build_only && exit 0

# npm ci only when node_modules is absent or older than the lock file. npm writes
# node_modules/.package-lock.json on every install; our own stamp records the lock file we
# installed from, so a touched or changed package-lock.json triggers a fresh install.
stamp="$itest/node_modules/.lucent-deps-stamp"
if [[ ! -d "$itest/node_modules" || ! -f "$itest/node_modules/.package-lock.json" ||
      ! -f "$stamp" || "$itest/package-lock.json" -nt "$stamp" ]]; then
    echo "deps: npm ci in tests/integration"
    (cd "$itest" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$stamp"
else
    echo "deps: tests/integration node_modules up to date"
fi
