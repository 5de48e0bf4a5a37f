// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, ok } from "node:assert/strict";
import { HELP_WIDTH, helpText } from "./help.ts";
import { HELP_ROWS } from "./_table.ts";

// The help column starts at column 35: 2 of indent, 29 of left column, 4 of padding.
const COLUMN = 35;

Deno.test("helpText() lays out flags in kong's two columns", () => {
  const lines = helpText().split("\n");
  equal(lines[0], "Usage: parca-agent");
  equal(lines[1], "");
  equal(lines[2], "Flags:");
  equal(lines[3], "  -h, --help" + " ".repeat(COLUMN - 12) + "Show context-sensitive help.");
  ok(lines.includes('      --log-level="info"           Log level.'));
  ok(lines.includes('      --node="hostname"            The name of the node that the process is'));
  // A left column of 30 or more characters puts the help on the next line.
  const i = lines.indexOf("      --python-unwinding-disable");
  equal(lines[i + 1], " ".repeat(COLUMN) + "Disable Python unwinder.");
  // Flags without help text get a blank line, as in the reference.
  const t = lines.indexOf("      --telemetry-disable-panic-reporting");
  equal(lines[t + 1], "");
  ok(helpText().endsWith("Enable verbose BPF logging.\n"));
  for (const l of lines) ok(l === l.trimEnd(), `trailing spaces in "${l}"`);
});

Deno.test("helpText() keeps every help line within the reference's wrap width", () => {
  for (const r of HELP_ROWS) {
    const help = r.kind === "flag" ? r.spec.help : r.help;
    for (const h of help) ok(h.length <= HELP_WIDTH, `"${h}" is longer than ${HELP_WIDTH}`);
  }
});

Deno.test("helpText() says the Go runtime and analytics flags do nothing here", () => {
  const text = helpText().replace(/\s+/g, " ");
  ok(
    text.includes("--mutex-profile-fraction=0 Fraction of mutex profile samples to collect. A Go"),
  );
  ok(text.includes("--block-profile-rate=0 Sample rate for block profile. A Go runtime setting"));
  ok(text.includes("This agent never sends usage analytics anywhere"));
});
