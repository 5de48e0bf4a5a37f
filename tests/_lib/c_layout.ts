// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Compiles a C probe against a header of bpf/ and returns the value of each expression: the
 * layout tests compare the TypeScript mirrors of the BPF structs with them.
 *
 * @module
 */

const BPF_DIR = new URL("../../bpf/", import.meta.url).pathname;

/**
 * Values of C expressions, by name.
 *
 * @param header A header of bpf/, e.g. "types.h".
 * @param probes Name → C expression (sizeof, offsetof, enum constants).
 * @returns Name → value.
 */
export async function probeCLayout(
  header: string,
  probes: Record<string, string>,
): Promise<Record<string, number>> {
  const dir = await Deno.makeTempDir();
  try {
    const lines = Object.entries(probes).map(([name, expr]) =>
      `  printf("%s\\"${name}\\":%lu", first ? "" : ",", (unsigned long)(${expr})); first = 0;`
    );
    await Deno.writeTextFile(
      `${dir}/probe.c`,
      `#include <stdio.h>\n#include <stddef.h>\n#include <stdbool.h>\n#include <linux/types.h>\n` +
        `#include "${header}"\nint main(void) {\n  int first = 1;\n  printf("{");\n` +
        `${lines.join("\n")}\n  printf("}\\n");\n  return 0;\n}\n`,
    );
    const cc = await new Deno.Command("cc", {
      args: ["-I", BPF_DIR, "-o", `${dir}/probe`, `${dir}/probe.c`],
    }).output();
    if (!cc.success) throw new Error(new TextDecoder().decode(cc.stderr));
    const run = await new Deno.Command(`${dir}/probe`).output();
    return JSON.parse(new TextDecoder().decode(run.stdout));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
