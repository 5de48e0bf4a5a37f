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
source "$(dirname "${BASH_SOURCE[0]}")/_go_cache.sh"
VERSION="${PPROF_VERSION:-v0.0.0-20261105003125-4bf881d7fb0b}"
CACHE="${PPROF_CACHE_DIR:-$(go_cache_root)}/pprof-$VERSION"
BIN="$CACHE/bin/pprof"
if [[ ! -x "$BIN" ]]; then
  go_cache_enter "$CACHE" pprof-tool.sh
  if [[ ! -x "$BIN" ]]; then
    echo "pprof-tool.sh: building pprof $VERSION into $GOBIN (first run only)" >&2
    go_install_cached github.com/google/pprof github.com/google/pprof "$VERSION" "$BIN" pprof-tool.sh
  fi
fi
echo "$BIN"
