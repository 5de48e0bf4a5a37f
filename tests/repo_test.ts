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

// Deno refuses every read under /proc and /sys to the permission-scoped agent (denoland/deno#27564),
// so code must read them through src/procfs. Flags calls of Deno's or node:fs's path-based file
// API whose path is a /proc or /sys literal, a variable assigned from one in the same file, or
// built from a `procRoot` (where procfs is mounted, which tests move).
Deno.test("no code reads /proc or /sys through Deno's file API (src/procfs does)", () => {
  const API = "readFile|readTextFile|open|readDir|readLink|stat|lstat|realPath|watchFs|" +
    "readFileSync|readTextFileSync|openSync|readDirSync|readLinkSync|statSync|lstatSync|" +
    "realPathSync|existsSync|opendirSync|readdirSync|readlinkSync|createReadStream";
  const procArg = /^\s*[`"'](\/proc|\/sys)(\/|[`"'$])|procRoot\b/;
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

// Native symbols have two tables: libbpf's (src/bpf/ffi.ts, and only src/bpf calls libbpf) and
// libc's (src/procfs/_libc.ts, whose raw table only src/bpf and src/procfs use; every other
// module calls procfs's named functions). A second table would drift from the first and load
// libc again under a name --allow-ffi may not cover.
Deno.test("only src/bpf/ffi.ts and src/procfs/_libc.ts load native libraries", () => {
  const TABLES = ["src/bpf/ffi.ts", "src/procfs/_libc.ts"];
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(`${ROOT}${dir}`)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) {
        if (!["gen", "node_modules", ".tools", ".output", "target"].includes(e.name)) walk(path);
        continue;
      }
      if (!path.endsWith(".ts") || TABLES.includes(path)) continue;
      const text = Deno.readTextFileSync(`${ROOT}${path}`);
      if (/Deno\.dlopen\(/.test(text)) offenders.push(`${path}: Deno.dlopen`);
      // The raw libc table, outside src/bpf and src/procfs.
      if (
        !path.startsWith("src/bpf/") && !path.startsWith("src/procfs/") &&
        /import\s*{[^}]*\blibc\b[^}]*}\s*from\s*"[^"]*procfs\/mod\.ts"/.test(text)
      ) offenders.push(`${path}: imports procfs's raw libc table`);
    }
  };
  for (const d of ["src", "tests", "bench", "scripts"]) walk(d);
  for (const f of ["main.ts", "launch.ts"]) {
    if (/Deno\.dlopen\(/.test(Deno.readTextFileSync(`${ROOT}${f}`))) offenders.push(f);
  }
  deepStrictEqual(offenders, []);
});

// The scoped agent may read only the variables of AGENT_ENV_VARS (src/launcher/env.ts); one read
// elsewhere would be refused at run time, in the scoped run only.
Deno.test("every environment variable the agent's code reads is in AGENT_ENV_VARS", async () => {
  const { AGENT_ENV_VARS } = await import("../src/launcher/env.ts");
  const allowed = (name: string) =>
    AGENT_ENV_VARS.some((v) => v.endsWith("*") ? name.startsWith(v.slice(0, -1)) : v === name);
  const missing: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(`${ROOT}${dir}`)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) {
        if (e.name !== "gen") walk(path);
        continue;
      }
      if (!path.endsWith(".ts") || /(_test|_bench|_test_util)\.ts$/.test(path)) continue;
      // The launcher computes the scope before it applies (it has the whole environment).
      if (["src/launcher/scope.ts", "src/launcher/launch.ts"].includes(path)) continue;
      const text = Deno.readTextFileSync(`${ROOT}${path}`);
      const names = [
        ...text.matchAll(/Deno\.env\.get\(\s*"([A-Za-z_][A-Za-z0-9_]*)"/g),
        ...text.matchAll(/\b[A-Z_]+_ENV\s*=\s*"([A-Za-z_][A-Za-z0-9_]*)"/g),
        ...text.matchAll(/\benv\.([A-Z][A-Z0-9_]{3,})\b/g),
      ].map((m) => m[1]);
      for (const n of names) if (!allowed(n)) missing.push(`${path}: ${n}`);
    }
  };
  walk("src");
  deepStrictEqual(missing, []);
});
