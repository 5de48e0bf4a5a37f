#!/usr/bin/env bash
# Copyright 2026 The profiler agent authors
# SPDX-License-Identifier: Apache-2.0
#
# Builds a real Parca server once (go install from the Go module proxy) into a cache directory
# outside the repository and prints the binary's path. Later runs reuse the cached binary, so
# only the first call pays for the build (many minutes on two cores).
#
#   scripts/parca-server.sh            # prints /var/cache/profiler-agent-test/parca-v0.28.0/bin/parca
#                                      # (as root; ~/.cache/profiler-agent-test/... otherwise)
#   PARCA_CACHE_DIR=/somewhere scripts/parca-server.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_go_cache.sh"
VERSION="${PARCA_VERSION:-v0.28.0}"
CACHE="${PARCA_CACHE_DIR:-$(go_cache_root)}/parca-$VERSION"
BIN="$CACHE/bin/parca"
if [[ ! -x "$BIN" ]]; then
  go_cache_enter "$CACHE" parca-server.sh
  if [[ ! -x "$BIN" ]]; then
    start=$(date +%s)
    echo "parca-server.sh: building parca $VERSION into $GOBIN (first run only; may take minutes)" >&2
    go_install_cached github.com/parca-dev/parca github.com/parca-dev/parca/cmd/parca \
      "$VERSION" "$BIN" parca-server.sh
    echo "parca-server.sh: built in $(($(date +%s) - start))s" >&2
  fi
fi
echo "$BIN"
