// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The launcher of a release (`deno task release`): bundled to `lib/agent/launch.js` beside the
 * bundled agent `lib/agent/agent.js`; the release's revision is in its `REVISION` file.
 *
 * @module
 */

import { launch } from "./launch.ts";

if (import.meta.main) {
  const here = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
  const root = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
  let revision: string | undefined;
  try {
    revision = Deno.readTextFileSync(`${root}/REVISION`).trim() || undefined;
  } catch {
    // A release without its REVISION file reports "unknown".
  }
  Deno.exit(
    launch(Deno.args, { entry: `${here}/agent.js`, appDir: root, revision: revision ?? "unknown" }),
  );
}
