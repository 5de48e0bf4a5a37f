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

// Deno refuses every read under /proc and /sys to the permission-scoped agent (denoland/deno#27564),
// so code must read them through src/procfs. Flags calls of Deno's or node:fs's path-based file
// API whose path is a /proc or /sys literal, or a variable assigned from one in the same file.
Deno.test("no code reads /proc or /sys through Deno's file API (src/procfs does)", () => {
  const API = "readFile|readTextFile|open|readDir|readLink|stat|lstat|realPath|watchFs|" +
    "readFileSync|readTextFileSync|openSync|readDirSync|readLinkSync|statSync|lstatSync|" +
    "realPathSync|existsSync|opendirSync|readdirSync|readlinkSync|createReadStream";
  const procArg = /^\s*[`"'](\/proc|\/sys)(\/|[`"'$])/;
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(`${ROOT}${dir}`)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) {
        if (!["gen", "procfs"].includes(e.name)) walk(path);
      } else if (
        path.endsWith(".ts") && !/(_test|_bench|_test_util)\.ts$/.test(path)
      ) {
        const text = Deno.readTextFileSync(`${ROOT}${path}`);
        // Names this file imports from node:fs, and variables holding a /proc or /sys path.
        const nodeFs = new Set<string>();
        for (const m of text.matchAll(/import\s*{([^}]*)}\s*from\s*"node:fs"/g)) {
          for (const n of m[1].split(",")) nodeFs.add(n.trim().split(/\s+as\s+/).pop()!);
        }
        const procVars = new Set<string>();
        for (const m of text.matchAll(/(?:const|let)\s+(\w+)\s*=\s*[`"'](\/proc|\/sys)\//g)) {
          procVars.add(m[1]);
        }
        const calls = new RegExp(`(Deno\\.|\\b)(${API})\\(([^)]*)`, "g");
        for (const m of text.matchAll(calls)) {
          const viaDeno = m[1] === "Deno.";
          if (!viaDeno && !nodeFs.has(m[2])) continue;
          const arg = m[3];
          const first = arg.split(",")[0].trim();
          if (procArg.test(arg) || procVars.has(first)) {
            const line = text.slice(0, m.index).split("\n").length;
            offenders.push(`${path.slice(1)}:${line}: ${m[0]}`);
          }
        }
      }
    }
  };
  // The agent's code; tests and their helpers run with --allow-all.
  walk("/src");
  for (const f of ["main.ts", "launch.ts"]) {
    const text = Deno.readTextFileSync(`${ROOT}${f}`);
    if (/Deno\.\w+\(\s*[`"']\/(proc|sys)\//.test(text)) offenders.push(f);
  }
  deepStrictEqual(offenders, []);
});
