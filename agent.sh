#!/usr/bin/env bash
# Copyright 2026 The profiler agent authors
# SPDX-License-Identifier: Apache-2.0
#
# Runs the agent on this host (as root): installs what is missing, builds the BPF object, then
# `deno task agent "$@"`. Serves http://127.0.0.1:7071/ by default.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DENO="$(bash "$ROOT/scripts/setup.sh")"
export PATH="$(dirname "$DENO"):$PATH" DENO_DIR="${DENO_DIR:-$ROOT/.tools/deno-dir}" DENO_NO_UPDATE_CHECK=1
cd "$ROOT"
exec deno task --quiet agent "$@"
