// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * What loading built tables allocates on the main thread: each FILE's table is built through a
 * tree's BuilderPool and loaded through its TableStore (over maps that drop what they are given:
 * BPF's copies are kernel memory), as the agent's Unwinder does, and V8's
 * `total_allocated_bytes` of this isolate is read around each `TableStore.load`. Each tree runs
 * in its own child process (`--v8-flags=--optimize-for-size`, as launched), trees alternating
 * over `--rounds`; the figure per tree is the median of its rounds.
 *
 *   deno run -A bench/table_load_alloc.ts --rounds=3 --tree=/work/main --tree=. FILES...
 *
 * @module
 */

import v8 from "node:v8";
import { arg } from "./_lib/proc.ts";
import { median } from "./_lib/measure.ts";
import { discardingTableMaps, importTreeUnwind } from "./_lib/tree.ts";

const CHILD = "--child=";

/** In the child: builds and loads every file through `tree`'s pool and store. */
async function child(tree: string, files: string[]): Promise<void> {
  const mod = await importTreeUnwind(tree);
  const pool = new mod.BuilderPool(2, 60_000);
  const maps = discardingTableMaps();
  const store = new mod.TableStore({ maps, maxRows: 2 ** 31 });
  // Node has it since v22 (V8 12.x); its types here do not.
  const allocated = () =>
    (v8.getHeapStatistics() as unknown as { total_allocated_bytes: number }).total_allocated_bytes;
  let bytes = 0, rows = 0, rules = 0;
  for (const path of files) {
    const st = await Deno.stat(path);
    const table = await pool.tableOfFile(
      { path, ino: String(st.ino), size: st.size, maxBytes: 1 << 30 },
      { cost: st.size },
    );
    rows += table.rows.length / 2;
    rules += table.rules.length / 12;
    const a0 = allocated();
    store.load(path, table, 1);
    bytes += allocated() - a0;
    mod.freePackedTable(table);
  }
  // deno-lint-ignore no-console -- the parent reads this line
  console.log(JSON.stringify({ bytes, rows, rules }));
  Deno.exit(0);
}

const childArg = Deno.args.find((a) => a.startsWith(CHILD));
const files = Deno.args.filter((a) => !a.startsWith("--"));
if (childArg) {
  await child(childArg.slice(CHILD.length), files);
} else {
  // Absolute: the child imports the tree's modules by file URL.
  const trees = Deno.args.filter((a) => a.startsWith("--tree=")).map((a) =>
    Deno.realPathSync(a.slice(7))
  );
  if (!trees.length) trees.push(Deno.realPathSync("."));
  const rounds = arg("rounds", 3);
  const out = new Map<string, { bytes: number; rows: number; rules: number }[]>();
  for (let r = 0; r < rounds; r++) {
    for (const tree of r % 2 ? [...trees].reverse() : trees) {
      const res = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--unstable-worker-options",
          "--v8-flags=--optimize-for-size",
          new URL(import.meta.url).pathname,
          `${CHILD}${tree}`,
          ...files,
        ],
        stderr: "inherit",
      }).output();
      const line = new TextDecoder().decode(res.stdout).trim().split("\n").at(-1) ?? "";
      out.set(tree, [...out.get(tree) ?? [], JSON.parse(line)]);
    }
  }
  const kib = (x: number) => `${(x / 1024).toFixed(0)} KiB`;
  // deno-lint-ignore no-console -- a benchmark's output is its report
  console.log([
    `${files.length} files, ${rounds} round(s) per tree, V8's total_allocated_bytes around ` +
    "TableStore.load, summed over the files (median of the rounds, and each round):",
    "",
    "| tree | rows | rules | allocated by the loads | each round |",
    "|---|---|---|---|---|",
    ...[...out].map(([tree, xs]) =>
      `| ${tree} | ${xs[0].rows} | ${xs[0].rules} | ${kib(median(xs.map((x) => x.bytes)))} | ${
        xs.map((x) => kib(x.bytes)).join(", ")
      } |`
    ),
  ].join("\n"));
}
