#!/usr/bin/env bash
# Copyright 2026 The profiler agent authors
# SPDX-License-Identifier: Apache-2.0
#
# Regenerates src/gen/ from proto/ with buf + protoc-gen-es (both from npm).
# With --check, generates into a temporary copy and fails if src/gen/ is not current.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUF="$(ls -d "$ROOT"/node_modules/.deno/@bufbuild+buf-linux-x64@*/node_modules/@bufbuild/buf-linux-x64/bin/buf | head -1)"
export DENO_DIR="${DENO_DIR:-$ROOT/.tools/deno-dir}"
cd "$ROOT/proto"
if [[ "${1:-}" == "--check" ]]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  cp -r "$ROOT/src/gen" "$tmp/before"
  "$BUF" generate
  if ! diff -r "$tmp/before" "$ROOT/src/gen" >/dev/null; then
    echo "gen: src/gen/ was not current with proto/; it has been regenerated, commit the result" >&2
    exit 1
  fi
  echo "gen: src/gen/ is current" >&2
else
  "$BUF" generate
fi
