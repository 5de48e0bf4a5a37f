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
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/deploy/kubernetes/validate"
if [[ $(id -u) -eq 0 ]]; then default_cache=/var/cache/profiler-agent-test; else
  default_cache="${XDG_CACHE_HOME:-$HOME/.cache}/profiler-agent-test"; fi
hash="$(cat "$SRC/go.mod" "$SRC/go.sum" "$SRC/main.go" | sha256sum | cut -c1-16)"
CACHE="${K8S_VALIDATE_CACHE_DIR:-$default_cache}/k8s-validate"
BIN="$CACHE/validate-$hash"
if [[ ! -x "$BIN" ]]; then
  command -v go >/dev/null 2>&1 || { echo "k8s-validate.sh: go is not installed" >&2; exit 1; }
  mkdir -p "$CACHE"
  export GOPATH="$CACHE/gopath" GOMODCACHE="$CACHE/gopath/pkg/mod" GOCACHE="$CACHE/gocache"
  export GOFLAGS="-modcacherw" CGO_ENABLED=0
  exec 9>"$CACHE/.lock"
  flock 9
  if [[ ! -x "$BIN" ]]; then
    echo "k8s-validate.sh: building the validator (k8s.io/api; first run only)" >&2
    (cd "$SRC" && go build -trimpath -o "$BIN.tmp" .) >&2
    mv "$BIN.tmp" "$BIN"
  fi
fi
exec "$BIN" "$@"
