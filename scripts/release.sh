#!/usr/bin/env bash
# Copyright 2026 The profiler agent authors
# SPDX-License-Identifier: Apache-2.0
#
# Builds the release tarball dist/parca-agent-<version>-linux-<arch>.tar.gz: the agent, its
# launcher and its three workers bundled to JavaScript (`deno bundle --platform deno`, npm
# packages included), the WASM module, the BPF object, the flame graph UI's static files (d3 and
# d3-flame-graph from node_modules, src/ui/assets), bin/parca-agent, the deployment files and
# docs. It runs from any directory with Deno 2.9 (from npm) and libbpf1; see docs/deployment.md.
#
#   scripts/release.sh [OUT_DIR]        # default: dist/
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/dist}"
DENO="${DENO:-deno}"
cd "$ROOT"
make -s -C bpf >&2
version="$(sed -n 's/^export const VERSION = "\(.*\)";$/\1/p' src/version.ts)"
arch="$(uname -m)"
name="parca-agent-$version-linux-$arch"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
dir="$stage/$name"
mkdir -p "$dir/bin" "$dir/lib/agent" "$dir/wasm-unwind/lib" "$dir/bpf/.output" "$dir/docs"
bundle() { "$DENO" bundle --quiet --platform deno -o "$2" "$1" >&2; }
bundle main.ts "$dir/lib/agent/agent.js"
bundle src/launcher/release_main.ts "$dir/lib/agent/launch.js"
# The agent starts its workers by these names, relative to its own module; the bundles are
# JavaScript, which Deno also runs under a .ts name.
bundle src/unwind/table_worker.ts "$dir/lib/agent/table_worker.ts"
bundle src/debuginfo/strip_worker.ts "$dir/lib/agent/strip_worker.ts"
bundle src/symbolize/native_worker.ts "$dir/lib/agent/native_worker.ts"
# The UI serves these at run time, found relative to the agent's module (src/ui/handler.ts ASSETS):
# ./assets beside it, ../../node_modules from it.
mkdir -p "$dir/lib/agent/assets" "$dir/node_modules/d3/dist" "$dir/node_modules/d3-flame-graph/dist"
cp src/ui/assets/* "$dir/lib/agent/assets/"
cp node_modules/d3/dist/d3.min.js "$dir/node_modules/d3/dist/"
cp node_modules/d3-flame-graph/dist/d3-flamegraph.umd.min.js \
  node_modules/d3-flame-graph/dist/d3-flamegraph.css "$dir/node_modules/d3-flame-graph/dist/"
cp node_modules/d3/LICENSE "$dir/node_modules/d3/"
cp node_modules/d3-flame-graph/LICENSE "$dir/node_modules/d3-flame-graph/"
cp wasm-unwind/lib/wasm_unwind.wasm "$dir/wasm-unwind/lib/"
cp bpf/.output/profiler.bpf.o "$dir/bpf/.output/"
cp scripts/release/parca-agent "$dir/bin/"
cp -r deploy "$dir/deploy"
rm -rf "$dir/deploy/kubernetes/validate"
cp README.md "$dir/"
cp docs/deployment.md "$dir/docs/" 2>/dev/null || true
(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown) >"$dir/REVISION"
mkdir -p "$OUT"
tar -C "$stage" -czf "$OUT/$name.tar.gz" "$name"
echo "$OUT/$name.tar.gz"
