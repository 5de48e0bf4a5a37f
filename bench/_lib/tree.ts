// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * What the table benchmarks share to run another checkout's table code: its `src/unwind/mod.ts`
 * imported by file URL, and maps for its TableStore that drop what they are given.
 *
 * @module
 */

import type { UnwindMaps } from "../../src/bpf/mod.ts";

/**
 * Imports a checkout's `src/unwind/mod.ts` (a tree compared against this one).
 *
 * @param tree The checkout's directory (absolute).
 * @returns The module, untyped: another checkout's API need not match this one's.
 */
// deno-lint-ignore no-explicit-any
export async function importTreeUnwind(tree: string): Promise<any> {
  return await import(new URL("src/unwind/mod.ts", `file://${tree.replace(/\/?$/, "/")}`).href);
}

/**
 * Unwind maps for a TableStore that drop what they are given: BPF copies rows and rules into
 * kernel memory, outside the agent's RSS, so a bench of the user-space side leaves them out.
 *
 * @returns The maps.
 */
export function discardingTableMaps(): Pick<
  UnwindMaps,
  "maxRules" | "maxTables" | "closed" | "setRule" | "loadTable" | "deleteTable"
> {
  return {
    maxRules: 1 << 20,
    maxTables: 1 << 20,
    closed: false,
    setRule() {},
    loadTable() {},
    deleteTable() {},
  };
}
