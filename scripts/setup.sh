#!/usr/bin/env bash
# Copyright 2026 The profiler agent authors
# SPDX-License-Identifier: Apache-2.0
#
# Installs everything the agent and its tests need, then builds what is built:
#   1. Debian packages (clang, llvm, libbpf-dev, bpftool, libelf-dev, linux-perf, gcc, ...) with apt-get
#   2. Deno, pinned, from the npm package `deno` into .tools/deno (no other download host is reachable)
#   3. npm dependencies of deno.json (deno install)
#   4. the BPF object (bpf/.output/profiler.bpf.o, vmlinux.h generated from the running kernel's BTF)
#   5. wasm-unwind/lib/wasm_unwind.wasm, only if its sources changed since the committed build
# Every step checks first and does nothing when its result is current, so a second run takes seconds.
# With --for-tests it also installs what only the tests need (Debian chromium for browser tests,
# libc6-dbg for the symbolization tests, Go toolchains of older .gopclntab layouts: Debian's
# golang-1.19 and Go 1.21 through the module proxy, cached in /var/cache/profiler-agent-test/go,
# and PostgreSQL 15 for the LLVM JIT test).
set -euo pipefail
for_tests=false
[[ "${1:-}" == "--for-tests" ]] && for_tests=true

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DENO_VERSION="2.9.6"
TOOLS="$ROOT/.tools"
export DENO_DIR="${DENO_DIR:-$TOOLS/deno-dir}"
export DENO_NO_UPDATE_CHECK=1

log() { printf 'setup: %s\n' "$*" >&2; }

# --- 1. Debian packages ---------------------------------------------------------------------------
# Maps a command (or file) we need to the Debian package that provides it.
need_pkgs=()
check() { # check <path-or-command> <package>
  if [[ "$1" == /* ]]; then [[ -e "$1" ]] || need_pkgs+=("$2"); else command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2"); fi
}
check clang clang
check llc llvm
check llvm-strip llvm
check bpftool bpftool
check /usr/include/bpf/bpf_helpers.h libbpf-dev
check /usr/lib/x86_64-linux-gnu/libbpf.so.1 libbpf1
check /usr/include/gelf.h libelf-dev
check gcc gcc
check g++ g++
check make make
check readelf binutils
check perf linux-perf
check bpftrace bpftrace
check setpriv util-linux
check npm npm
check gzip gzip
if $for_tests; then
  check /usr/bin/chromium chromium
  # deploy_test: systemd-analyze verify of deploy/systemd, go for the Kubernetes validator.
  check systemd-analyze systemd
  check go golang-go
  # libc's separate debug file: the symbolization tests name libc's static functions from it.
  check /usr/share/doc/libc6-dbg libc6-dbg
  check /usr/lib/go-1.19/bin/go golang-1.19-go
  # The Ruby unwinder's end-to-end test runs Debian's ruby (libruby-3.1).
  check /usr/bin/ruby ruby
  # PostgreSQL with its LLVM JIT (llvmjit.so): the JIT marker test runs a cluster of its own.
  check /usr/lib/postgresql/15/lib/llvmjit.so postgresql-15
  check psql postgresql-client-15
fi
if ((${#need_pkgs[@]})); then
  mapfile -t need_pkgs < <(printf '%s\n' "${need_pkgs[@]}" | sort -u)
  log "installing Debian packages: ${need_pkgs[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages (${need_pkgs[*]}); run this once as root (sudo) so apt-get can install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# --- 2. Deno from npm -----------------------------------------------------------------------------
DENO="$TOOLS/deno/node_modules/.bin/deno"
if ! [[ -x "$DENO" ]] || [[ "$("$DENO" --version 2>/dev/null | head -1)" != "deno $DENO_VERSION"* ]]; then
  log "installing deno $DENO_VERSION from npm"
  mkdir -p "$TOOLS/deno"
  (cd "$TOOLS/deno" && printf '{"name":"deno-tool","private":true}\n' >package.json &&
    npm install --silent --no-audit --no-fund "deno@$DENO_VERSION" >/dev/null)
fi
"$DENO" --version >/dev/null

# --- 3. npm dependencies --------------------------------------------------------------------------
stamp="$TOOLS/.deno-install.stamp"
if ! [[ -f "$stamp" && "$stamp" -nt "$ROOT/deno.json" && "$stamp" -nt "$ROOT/deno.lock" && -d "$ROOT/node_modules" ]]; then
  log "installing npm dependencies (deno install)"
  (cd "$ROOT" && "$DENO" install --quiet --frozen >/dev/null 2>"$TOOLS/deno-install.log" ||
    { cat "$TOOLS/deno-install.log" >&2; exit 1; })
  touch "$stamp"
fi

# --- 4. BPF object --------------------------------------------------------------------------------
make -s -C "$ROOT/bpf" >&2

# --- 5. wasm-unwind -------------------------------------------------------------------------------
# The .wasm is committed (reproducible, 120 KiB) with a stamp of its sources' hash; this rebuilds
# it, installing Debian's Rust toolchain first, only when the sources changed.
bash "$ROOT/wasm-unwind/build.sh" >&2

# --- 6. Go toolchains for the tests (tests/_lib/go_toolchains.ts) ---------------------------------
if $for_tests && command -v go >/dev/null 2>&1; then
  GO_CACHE=/var/cache/profiler-agent-test/go
  if ! GOTOOLCHAIN=go1.21.13 GOPATH="$GO_CACHE/gopath" GOMODCACHE="$GO_CACHE/gopath/pkg/mod" \
    go version >/dev/null 2>&1; then
    log "cannot fetch the Go 1.21.13 toolchain through the module proxy; the Go 1.21 tests will fail"
  fi
fi

echo "$DENO"
