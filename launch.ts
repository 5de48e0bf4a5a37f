// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Starts the agent permission-scoped: computes its Deno permissions from its flags and replaces
 * this process with `deno run <permissions> main.ts <flags>` (see src/launcher).
 *
 *   deno run --allow-read --allow-env --allow-sys --allow-ffi --allow-run=git launch.ts [FLAGS]
 *
 * This process only parses flags and stats the paths they name; the agent is the process it
 * becomes, with the same pid.
 *
 * @module
 */

import { launch } from "./src/launcher/mod.ts";

if (import.meta.main) {
  const dir = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
  Deno.exit(
    launch(Deno.args, { entry: `${dir}/main.ts`, appDir: dir, config: `${dir}/deno.json` }),
  );
}
