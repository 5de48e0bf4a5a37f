#!/usr/bin/env bash
# Copyright 2026 The profiler agent authors
# SPDX-License-Identifier: Apache-2.0
#
# Builds upstream pprof (github.com/google/pprof, pinned) once with go install from the Go module
# proxy into a cache directory outside the repository and prints the binary's path. The
# symbolization tests read the agent's profiles with it and with `go tool pprof`.
#
#   scripts/pprof-tool.sh      # prints /var/cache/profiler-agent-test/pprof-<version>/bin/pprof
set -euo pipefail
VERSION="${PPROF_VERSION:-v0.0.0-20261105003125-4bf881d7fb0b}"
if [[ $(id -u) -eq 0 ]]; then default_cache=/var/cache/profiler-agent-test; else
  default_cache="${XDG_CACHE_HOME:-$HOME/.cache}/profiler-agent-test"; fi
CACHE="${PPROF_CACHE_DIR:-$default_cache}/pprof-$VERSION"
BIN="$CACHE/bin/pprof"
if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "pprof-tool.sh: go is not installed; cannot build pprof" >&2
  exit 1
fi
mkdir -p "$CACHE"
export GOPATH="$CACHE/gopath" GOMODCACHE="$CACHE/gopath/pkg/mod" GOCACHE="$CACHE/gocache"
export GOBIN="$CACHE/bin" GOFLAGS="-modcacherw" CGO_ENABLED=0
exec 9>"$CACHE/.lock"
flock 9
if [[ ! -x "$BIN" ]]; then
  echo "pprof-tool.sh: building pprof $VERSION into $GOBIN (first run only)" >&2
  go install "github.com/google/pprof@$VERSION" >&2
fi
echo "$BIN"
