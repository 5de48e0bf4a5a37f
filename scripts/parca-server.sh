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
VERSION="${PARCA_VERSION:-v0.28.0}"
if [[ $(id -u) -eq 0 ]]; then default_cache=/var/cache/profiler-agent-test; else
  default_cache="${XDG_CACHE_HOME:-$HOME/.cache}/profiler-agent-test"; fi
CACHE="${PARCA_CACHE_DIR:-$default_cache}/parca-$VERSION"
BIN="$CACHE/bin/parca"
if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "parca-server.sh: go is not installed; cannot build the Parca server" >&2
  exit 1
fi
mkdir -p "$CACHE"
# The module and build caches live next to the binary (not in the repository, not in $HOME), and
# a lock keeps two test runs from building at the same time.
export GOPATH="$CACHE/gopath" GOMODCACHE="$CACHE/gopath/pkg/mod" GOCACHE="$CACHE/gocache"
export GOBIN="$CACHE/bin" GOFLAGS="-modcacherw" CGO_ENABLED=0
exec 9>"$CACHE/.lock"
flock 9
if [[ ! -x "$BIN" ]]; then
  start=$(date +%s)
  echo "parca-server.sh: building parca $VERSION into $GOBIN (first run only; may take minutes)" >&2
  if ! go install "github.com/parca-dev/parca/cmd/parca@$VERSION" >&2; then
    # `go install pkg@version` also asks the proxy for the module's version list (to report
    # deprecations), and a proxy that serves the version but refuses the list (403) fails it.
    # Building the downloaded module as the main module uses the same go.mod and go.sum.
    echo "parca-server.sh: go install failed; building the downloaded module instead" >&2
    dir="$(go mod download -json "github.com/parca-dev/parca@$VERSION" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [[ -d "$dir" ]] || { echo "parca-server.sh: cannot download parca $VERSION" >&2; exit 1; }
    (cd "$dir" && go build -trimpath -o "$BIN" ./cmd/parca) >&2
  fi
  echo "parca-server.sh: built in $(( $(date +%s) - start ))s" >&2
fi
echo "$BIN"
