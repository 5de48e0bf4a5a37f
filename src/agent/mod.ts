// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The agent as a whole: {@link run} takes the command line and returns an exit code.
 *
 * @example
 * ```ts ignore
 * import { run } from "./mod.ts";
 * Deno.exit(await run(["--profiling-duration=10s"], Deno.env.toObject()));
 * ```
 *
 * @module
 */

export { IMPLEMENTED_FLAGS, run } from "./run.ts";
