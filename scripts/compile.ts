// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * `deno task compile [-- FLAGS]`: builds dist/parca-agent with `deno compile`, embedding the
 * WASM module, the BPF object and the workers, with the permissions that src/launcher computes
 * for FLAGS (the defaults when none): a compiled binary cannot be re-executed with other
 * permissions, so the flags it will run with are given here. `deno compile` needs a `denort`
 * runtime: `DENORT_BIN` names one (these machines cannot download it).
 *
 * @module
 */

import { agentCommand, liveHostFacts } from "../src/launcher/mod.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const { args } = agentCommand(
  Deno.args,
  { entry: `${root}/main.ts`, appDir: root },
  liveHostFacts(root),
);
const entry = args.indexOf(`${root}/main.ts`);
const denoFlags = args.slice(1, entry).filter((a) => a !== "--no-config");
const compile = [
  "compile",
  `--config=${root}/deno.json`,
  ...denoFlags,
  "--include",
  `${root}/wasm-unwind/lib/wasm_unwind.wasm`,
  "--include",
  `${root}/bpf/.output/profiler.bpf.o`,
  "--include",
  `${root}/src/unwind/table_worker.ts`,
  "--include",
  `${root}/src/debuginfo/strip_worker.ts`,
  "--output",
  `${root}/dist/parca-agent`,
  `${root}/main.ts`,
  ...Deno.args,
];
const status = await new Deno.Command(Deno.execPath(), { args: compile, stdin: "null" }).spawn()
  .status;
Deno.exit(status.code);
