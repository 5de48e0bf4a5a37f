// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Repository checks that CI must enforce: formatting, lint, generated code being current, and
// licence headers. (Type checking happens when deno test loads every module.)

import { deepStrictEqual, ok } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  const res = await new Deno.Command(cmd, { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
    .output();
  const d = new TextDecoder();
  return { ok: res.success, out: d.decode(res.stdout) + d.decode(res.stderr) };
}

Deno.test("deno fmt --check finds nothing to reformat", async () => {
  const r = await run(Deno.execPath(), ["fmt", "--check"]);
  ok(r.ok, r.out);
});

Deno.test("deno lint reports no problem", async () => {
  const r = await run(Deno.execPath(), ["lint"]);
  ok(r.ok, r.out);
});

Deno.test("src/gen is what proto/ generates", async () => {
  const r = await run("bash", ["scripts/gen.sh", "--check"]);
  ok(r.ok, r.out);
});

Deno.test("every source file carries its licence header", () => {
  const missing: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(`${ROOT}${dir}`)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) {
        if (!["gen", ".output", "node_modules", ".tools"].includes(e.name)) walk(path);
        continue;
      }
      const text = Deno.readTextFileSync(`${ROOT}${path}`);
      const head = text.split("\n").slice(0, 4).join("\n");
      if (/\.(ts|sh)$/.test(e.name) && !head.includes("SPDX-License-Identifier: Apache-2.0")) {
        missing.push(path);
      }
      if (path.startsWith("bpf/") && /\.(c|h)$/.test(e.name) && !head.includes("GPL-2.0")) {
        missing.push(path);
      }
    }
  };
  for (const d of ["src", "bpf", "tests", "scripts", "bench"]) {
    try {
      walk(d);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  deepStrictEqual(missing, []);
});

Deno.test(
  "wasm-unwind's Rust unit tests pass and lib/ is built from the current sources",
  async () => {
    // cargo test, natively, with the Debian toolchain and crates the WASM build uses.
    const r = await run("bash", ["wasm-unwind/build.sh", "--test"]);
    ok(r.ok, r.out.split("\n").slice(-60).join("\n"));
    ok(/test result: ok\. [1-9]\d* passed/.test(r.out), r.out.split("\n").slice(-60).join("\n"));
  },
);
