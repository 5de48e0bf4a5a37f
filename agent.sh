#!/usr/bin/env bash
# Copyright 2026 The profiler agent authors
# SPDX-License-Identifier: Apache-2.0
#
# Runs the agent on this host (as root): installs what is missing, builds the BPF object, then
# `deno task agent "$@"`'s command. Serves http://127.0.0.1:7071/ by default.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DENO="$(bash "$ROOT/scripts/setup.sh")"
export PATH="$(dirname "$DENO"):$PATH" DENO_DIR="${DENO_DIR:-$ROOT/.tools/deno-dir}" DENO_NO_UPDATE_CHECK=1
cd "$ROOT"
# The command of `deno task agent`, run in place of this shell: `deno task` would stay alive as
# the agent's parent, a second Deno process of ~23 MiB RSS.
read -r -a command < <(deno eval 'console.log(JSON.parse(Deno.readTextFileSync("deno.json")).tasks.agent)')
exec "${command[@]}" "$@"
