#!/usr/bin/env bash
# ctest lambda.package: lays out the Lambda packages with scripts/package-lambda and proves that
# one runs with nothing but itself, as it must on Amazon Linux 2023: in a chroot that holds only
# /var/task (no /lib, no /usr, no /etc), the health function's bootstrap resolves every library
# inside its package and serves an invocation from the emulated Runtime API over real HTTP.
#
# usage: package_test.sh BUILD_DIR   (root needed for chroot; exits 77, "skipped", otherwise)
set -euo pipefail

build=$(cd "$1" && pwd)
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: chroot needs root"
  exit 77
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }; done
  exit 1
}
free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

redis_port=$(free_port)  # nothing listens there: health answers 503 naming redis
cat >"$tmp/config.json" <<EOF
{"public_base_url": "https://credbroker.example.com",
 "identity": {"issuer": "https://idp.example.com", "audience": "credbroker",
              "jwks_file": "/var/task/jwks.json"},
 "redis": {"url": "redis://127.0.0.1:$redis_port/0", "connect_timeout_ms": 300,
           "command_timeout_ms": 300}}
EOF
"$src/scripts/package-lambda" "$build" "$tmp/out" "$tmp/config.json" >/dev/null

for fn in list delete connect callback health resolve; do
  bootstrap="$tmp/out/$fn/bootstrap"
  [ "$(patchelf --print-interpreter "$bootstrap")" = "/var/task/lib/$(basename "$(patchelf --print-interpreter "$build/bin/credbroker-$fn")")" ] ||
    fail "$fn: interpreter is $(patchelf --print-interpreter "$bootstrap")"
  readelf -d "$bootstrap" | grep -q 'Library rpath: \[/var/task/lib\]' || fail "$fn: no DT_RPATH /var/task/lib"
  [ -s "$tmp/out/$fn/lib/PACKAGES" ] || fail "$fn: no lib/PACKAGES"
done

root="$tmp/root"
mkdir -p "$root/var/task"
cp -a "$tmp/out/health/." "$root/var/task/"
"$build/bin/credbroker-devtoken" keygen --alg ES256 --private "$tmp/key.pem" \
  --jwks "$root/var/task/jwks.json"
loader=$(patchelf --print-interpreter "$root/var/task/bootstrap")

# Every library the loader maps comes from the package (there is nothing else in the chroot, but
# say so explicitly: a library found elsewhere would be a packaging bug on a real host).
listing=$(chroot "$root" "$loader" --list /var/task/bootstrap) || fail "loader cannot list: $listing"
outside=$(printf '%s\n' "$listing" | grep '=>' | grep -v '=> /var/task/lib/' || true)
[ -z "$outside" ] || fail "libraries from outside the package: $outside"

gateway=$(free_port)
runtime=$(free_port)
cat >"$tmp/emulator.json" <<EOF
{"gateway_port": $gateway, "functions": {"health": $runtime},
 "routes": [["^/api/v1/healthz$", "health"]], "invoke_timeout_ms": 20000,
 "record_file": "$tmp/runtime-errors.jsonl"}
EOF
node "$src/tests/lambda/emulator.mjs" "$tmp/emulator.json" 2>"$tmp/emulator.log" &
pids+=($!)
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$gateway/" && break
  sleep 0.1
done

chroot_bin=$(command -v chroot)
env -i AWS_LAMBDA_RUNTIME_API="127.0.0.1:$runtime" CREDBROKER_CONFIG=/var/task/config.json \
  "$chroot_bin" "$root" /var/task/bootstrap 2>"$tmp/handler.log" &
pids+=($!)

status=$(curl -s -m 25 -o "$tmp/body" -w '%{http_code}' "http://127.0.0.1:$gateway/api/v1/healthz") ||
  fail "no answer through the emulator"
body=$(cat "$tmp/body")
[ "$status" = 503 ] || fail "health answered $status: $body"
[ "$body" = '{"status":"unavailable","checks":{"config":"ok","redis":"failing"}}' ] ||
  fail "unexpected body: $body"
grep -q '"event":"lambda_runtime_started"' "$tmp/handler.log" || fail "the Runtime API loop did not start"
echo "lambda.package: 6 packages laid out; health ran in a chroot holding only its package"
