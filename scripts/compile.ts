// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * `deno task compile [-- FLAGS]`: builds dist/parca-agent with `deno compile`, embedding the
 * WASM module, the BPF object (loaded from its bytes with bpf_object__open_mem, so the embedded
 * copy is the one used), the three workers and the UI's static files, with the permissions that src/launcher computes
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
  "--include",
  `${root}/src/symbolize/native_worker.ts`,
  "--include",
  `${root}/src/ui/assets`,
  "--include",
  `${root}/node_modules/d3/dist/d3.min.js`,
  "--include",
  `${root}/node_modules/d3-flame-graph/dist/d3-flamegraph.umd.min.js`,
  "--include",
  `${root}/node_modules/d3-flame-graph/dist/d3-flamegraph.css`,
  "--output",
  `${root}/dist/parca-agent`,
  `${root}/main.ts`,
  ...Deno.args,
];
const status = await new Deno.Command(Deno.execPath(), { args: compile, stdin: "null" }).spawn()
  .status;
Deno.exit(status.code);
