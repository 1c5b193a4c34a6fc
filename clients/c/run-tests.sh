#!/usr/bin/env bash
# Builds libmeterclient and runs its tests, plain and under valgrind. Called from scripts/test
# in CI; exits non-zero on any failure.
#
#   clients/c/run-tests.sh
#
# Installs the Debian packages it needs when missing (root only). The live tests use
# $METERD_BINARY (default ../../.build/debug/meterd, built by `swift build`).
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v protoc-c >/dev/null 2>&1 || need+=(protobuf-c-compiler)
[ -f /usr/include/protobuf-c/protobuf-c.h ] || need+=(libprotobuf-c-dev)
[ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v cc >/dev/null 2>&1 || need+=(gcc make)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "== missing ${need[*]} and cannot install them (not root or no apt-get)" >&2
        exit 1
    fi
fi

meterd="${METERD_BINARY:-../../.build/debug/meterd}"
if [ ! -x "$meterd" ]; then
    echo "== meterd binary not found at $meterd: run 'swift build' first or set METERD_BINARY" >&2
    exit 1
fi

echo "== clients/c: make"
make -s clean
make -s all
echo "== clients/c: make test"
make -s test
echo "== clients/c: make test-valgrind"
make -s test-valgrind
echo "== clients/c: ok"
