#!/bin/sh
# `make demo`: what outpost does today, on example manifests. Each step says what it
# shows and fails loudly when the outcome is not the expected one. Later issues grow
# it into the whole flow: hub, sites, hosts, a signed push, an outage.
set -eu
cd "$(dirname "$0")/.."
OUT=./outpost
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }

step "outpost --version: one static binary and the libraries it carries"
$OUT --version
file $OUT | grep -q "statically linked" || fail "outpost is not statically linked"

step "validate the example apps (examples/apps): each valid file, its app and digest"
$OUT validate examples/apps || fail "the examples should be valid"

step "the canonical JSON stored in KV for gateway (defaults filled, sorted keys)"
$OUT validate --json examples/apps/gateway.yaml || fail "gateway should be valid"

step "a broken manifest: every error, with file:line:col and the field path"
cat >"$tmp/broken.yaml" <<'YAML'
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: Thermo_2
spec:
  components:
    - name: reader
      type: process
      properties:
        command: opt/thermo/reader
        restart: sometimes
      traits:
        - type: spreadscaler
          properties: {instances: "4", spread: [{weight: 0}]}
YAML
cat -n "$tmp/broken.yaml"
set +e
$OUT validate "$tmp/broken.yaml"
rc=$?
set -e
[ "$rc" = 1 ] || fail "validate should exit 1 on an invalid manifest, got $rc"

step "the same app name in two files is refused"
cp examples/apps/thermo.yaml "$tmp/thermo-copy.yaml"
set +e
$OUT validate examples/apps "$tmp/thermo-copy.yaml"
rc=$?
set -e
[ "$rc" = 1 ] || fail "a duplicate app name should be refused, got exit $rc"

printf '\ndemo: all steps behaved as expected\n'
