// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The effective flags as a user would write them, for the status page; secrets are redacted.
 *
 * @module
 */

import { FLAG_SPECS } from "./_table.ts";
import { changedFlags, defaultFlags } from "./flags.ts";
import type { AgentFlags } from "./flags.ts";

/** Flags whose values are never shown. */
const SECRET_FLAGS = new Set(["remote-store-bearer-token"]);

function formatDuration(ms: number): string {
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function formatValue(key: string, value: unknown): string {
  if (Array.isArray(value)) {
    return value.map((v) => (Array.isArray(v) ? `${v[0]}=${v[1]}` : String(v))).join(
      key === "metadataExternalLabels" ? ";" : ",",
    );
  }
  if (typeof value === "number" && key.endsWith("Ms")) return formatDuration(value);
  return String(value);
}

/**
 * Lists every flag with its effective value, in help order.
 *
 * @param flags The parsed flags.
 * @returns `[--name, value, changed]` rows; secret values read `<redacted>` when set.
 */
export function describeFlags(flags: AgentFlags): Array<[string, string, boolean]> {
  const changed = new Set(changedFlags(flags, defaultFlags(flags.node)));
  const rows: Array<[string, string, boolean]> = [];
  for (const spec of FLAG_SPECS) {
    if (spec.name === "help" || spec.name === "version") continue;
    const value = (flags as unknown as Record<string, unknown>)[spec.key as string];
    if (value === undefined) continue;
    let shown = formatValue(spec.key as string, value);
    if (SECRET_FLAGS.has(spec.name) && shown) shown = "<redacted>";
    rows.push([`--${spec.name}`, shown, changed.has(spec.name)]);
  }
  return rows;
}
