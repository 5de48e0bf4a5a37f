// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The `--help` text, laid out as kong lays out the reference agent's.
 *
 * @module
 */

import { HELP_ROWS } from "./_table.ts";

// Kong's two-column layout at its default 80-column width: the left column takes the widest
// entry shorter than 30 characters, then 4 spaces of padding; longer entries get a line of their
// own and their help starts on the next line. Rows sit under a 2-space indent.
const INDENT = "  ";
const MAX_LEFT = 30;
const PADDING = 4;

/** The longest help line, so that new help text wraps like the reference's. */
export const HELP_WIDTH: number = 80 - (MAX_LEFT - 1) - PADDING;

/**
 * Returns the `--help` text: the reference agent's layout and wording, with notes on the flags
 * that are accepted only for compatibility.
 *
 * @returns The text, ending with a newline.
 *
 * @example Printing help
 * ```ts
 * import { helpText } from "./help.ts";
 * console.assert(helpText().startsWith("Usage: parca-agent\n"));
 * ```
 */
export function helpText(): string {
  const rows = HELP_ROWS.map((r) => {
    if (r.kind === "help") return { left: "-h, --help", help: r.help };
    if (r.kind === "flag") {
      return { left: `    --${r.spec.name}${r.spec.placeholder}`, help: r.spec.help };
    }
    return { left: `    --${r.name}`, help: r.help };
  });
  let leftSize = 0;
  for (const r of rows) {
    if (r.left.length < MAX_LEFT) leftSize = Math.max(leftSize, r.left.length);
  }
  const offset = INDENT + " ".repeat(leftSize + PADDING);
  const lines = ["Usage: parca-agent", "", "Flags:"];
  for (const r of rows) {
    let help = r.help.length === 0 ? [""] : [...r.help];
    if (r.left.length < MAX_LEFT) {
      const first = help[0] === "" ? "" : " ".repeat(PADDING) + help[0];
      lines.push((INDENT + r.left.padEnd(leftSize) + first).trimEnd());
      help = help.slice(1);
    } else {
      lines.push(INDENT + r.left);
    }
    // Kong prints an empty help as a blank line under a long flag; trailing spaces are dropped.
    for (const h of help) lines.push(h === "" ? "" : offset + h);
  }
  return lines.join("\n") + "\n";
}
