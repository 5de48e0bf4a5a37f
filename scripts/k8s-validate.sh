#!/usr/bin/env bash
# Copyright 2026 The profiler agent authors
# SPDX-License-Identifier: Apache-2.0
#
# Decodes Kubernetes manifests strictly against the real API types (k8s.io/api from the Go module
# proxy) with deploy/kubernetes/validate, and prints one JSON line per object. The validator is
# built once per version of its sources into a cache outside the repository (like
# scripts/parca-server.sh), so later runs take milliseconds.
#
#   scripts/k8s-validate.sh deploy/kubernetes/*.yaml
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_go_cache.sh"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/deploy/kubernetes/validate"
hash="$(cat "$SRC/go.mod" "$SRC/go.sum" "$SRC/main.go" | sha256sum | cut -c1-16)"
CACHE="${K8S_VALIDATE_CACHE_DIR:-$(go_cache_root)}/k8s-validate"
BIN="$CACHE/validate-$hash"
if [[ ! -x "$BIN" ]]; then
  go_cache_enter "$CACHE" k8s-validate.sh
  if [[ ! -x "$BIN" ]]; then
    echo "k8s-validate.sh: building the validator (k8s.io/api; first run only)" >&2
    (cd "$SRC" && go build -trimpath -o "$BIN.tmp" .) >&2
    mv "$BIN.tmp" "$BIN"
  fi
fi
exec "$BIN" "$@"
