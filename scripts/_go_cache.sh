#!/usr/bin/env bash
# Copyright 2026 The profiler agent authors
# SPDX-License-Identifier: Apache-2.0
#
# Sourced by the scripts that build a Go tool once into a cache outside the repository
# (parca-server.sh, pprof-tool.sh, k8s-validate.sh): where the cache is, Go's caches inside it, a
# lock so two test runs never build at the same time, and `go install` that survives a proxy
# refusing the module's version list.

# go_cache_root: /var/cache/profiler-agent-test as root, else under $XDG_CACHE_HOME or ~/.cache.
go_cache_root() {
  if [[ $(id -u) -eq 0 ]]; then echo /var/cache/profiler-agent-test; else
    echo "${XDG_CACHE_HOME:-$HOME/.cache}/profiler-agent-test"; fi
}

# go_cache_enter DIR WHO: creates DIR, points Go's module and build caches (and GOBIN) into it,
# and holds DIR/.lock on fd 9 until the calling script exits. Fails with one line if Go is missing.
go_cache_enter() {
  local dir="$1" who="$2"
  command -v go >/dev/null 2>&1 || { echo "$who: go is not installed; cannot build" >&2; return 1; }
  mkdir -p "$dir"
  export GOPATH="$dir/gopath" GOMODCACHE="$dir/gopath/pkg/mod" GOCACHE="$dir/gocache"
  export GOBIN="$dir/bin" GOFLAGS="-modcacherw" CGO_ENABLED=0
  exec 9>"$dir/.lock"
  flock 9
}

# go_install_cached MODULE PACKAGE VERSION BIN WHO: `go install PACKAGE@VERSION` into $GOBIN (BIN
# is the binary it makes), after go_cache_enter.
go_install_cached() {
  local module="$1" package="$2" version="$3" bin="$4" who="$5" dir rel
  go install "$package@$version" >&2 && return 0
  # `go install pkg@version` also asks the proxy for the module's version list (to report
  # deprecations), and a proxy that serves the version but refuses the list (403) fails it.
  # Building the downloaded module as the main module uses the same go.mod and go.sum.
  echo "$who: go install failed; building the downloaded module instead" >&2
  dir="$(go mod download -json "$module@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$dir" ]] || { echo "$who: cannot download $module $version" >&2; return 1; }
  rel="${package#"$module"}"
  (cd "$dir" && go build -trimpath -o "$bin" "./${rel#/}") >&2
}
