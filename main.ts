// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The agent's entry point: parse the command line, check the host, start the profiler and the
 * HTTP server, run until SIGINT/SIGTERM, and return an exit code. Failures are reported once, as
 * one line; `--log-level=debug` adds the cause chain.
 *
 * Exit codes: 0 after a clean stop, 1 when the agent cannot start, 2 for a bad command line.
 *
 * @module
 */

import { run } from "./src/agent/mod.ts";
import { agentEnvironment } from "./src/launcher/mod.ts";

if (import.meta.main) {
  Deno.exit(await run(Deno.args, agentEnvironment()));
}
