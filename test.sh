#!/usr/bin/env bash
# Copyright 2026 The profiler agent authors
# SPDX-License-Identifier: Apache-2.0
#
# Runs the whole test suite (unit, repository checks and, as root, end-to-end tests with real
# BPF): installs what is missing, builds what is built, then `deno task test "$@"`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DENO="$(bash "$ROOT/scripts/setup.sh" --for-tests)"
export PATH="$(dirname "$DENO"):$PATH" DENO_DIR="${DENO_DIR:-$ROOT/.tools/deno-dir}" DENO_NO_UPDATE_CHECK=1
cd "$ROOT"
# The real Parca server of the remote-store tests: built once (minutes), then reused from its cache.
PARCA_BIN="$(bash "$ROOT/scripts/parca-server.sh")" && export PARCA_BIN || echo "test.sh: no Parca server; the remote-store tests will fail" >&2
# Upstream pprof, to read the agent's symbolized profiles as a user would (go tool pprof is Go's).
PPROF_BIN="$(bash "$ROOT/scripts/pprof-tool.sh")" && export PPROF_BIN || echo "test.sh: no pprof; the symbolization test leaves it out" >&2
exec deno task --quiet test "$@"
