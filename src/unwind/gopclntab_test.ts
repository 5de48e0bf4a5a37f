// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Tests of the .gopclntab reader in wasm-unwind (src/gopclntab.rs) through the WASM ABI, with
// Go programs built here by three toolchains (the Go 1.20+ layout of this machine's Go and of
// Go 1.21, the Go 1.18 layout of Go 1.19): inlined frames against what the Go runtime itself
// reports (runtime.CallersFrames), function names and entries against `go tool nm`, file and
// line of sampled instructions against `go tool objdump`, stripped, PIE and cgo builds, and
// corrupt tables.

import assert from "node:assert/strict";

import { buildGo, GO_TOOLCHAINS, type GoToolchain } from "../../tests/_lib/go_toolchains.ts";
import { WasmUnwind, WasmUnwindError } from "./_wasm.ts";

let wasmPromise: Promise<WasmUnwind> | undefined;
function wasm(): Promise<WasmUnwind> {
  wasmPromise ??= WasmUnwind.load();
  return wasmPromise;
}

async function output(cmd: string, args: string[], env: Record<string, string> = {}) {
  const res = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  if (!res.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(res.stderr)}`);
  }
  return new TextDecoder().decode(res.stdout);
}

/** Frames of each PC from go_describe: pc -> [function, file, line, inlined][]. */
function parseFrames(lines: string[]): Map<bigint, string[][]> {
  const out = new Map<bigint, string[][]>();
  for (const l of lines.slice(1)) {
    const [pc, , ...rest] = l.split("\t");
    if (rest.length === 0) continue; // no function here
    const key = BigInt(pc);
    if (!out.has(key)) out.set(key, []);
    out.get(key)!.push(rest);
  }
  return out;
}

/** The runtime shows generic shapes as `[...]`; the table holds the shape's name. */
const generic = (name: string) => name.replace(/\[.*\]/, "[...]");

/**
 * Runs go_inline and checks that the frames of each real return PC (minus 1) are the frames
 * the runtime lists for it: the runtime gives each inlined frame a PC of its own, in order.
 */
async function checkAgainstRuntime(binary: string, bias: bigint, run: string[]): Promise<number> {
  const gold = (await output(run[0], [...run.slice(1), binary])).trim().split("\n")
    .map((l) => l.split("\t"));
  const pcs = [...new Set(gold.map((g) => BigInt(`0x${g[0]}`)))];
  const w = await wasm();
  const file = await Deno.readFile(binary);
  const header = w.goDescribe(file, [], 0)[0];
  const frames = parseFrames(w.goDescribe(file, pcs.map((pc) => pc - 1n - bias)));
  let checked = 0;
  for (let i = 0; i < gold.length;) {
    const pc = BigInt(`0x${gold[i][0]}`);
    const ours = frames.get(pc - 1n - bias);
    assert.ok(ours, `${binary}: no frames for ${pc.toString(16)} (${header})`);
    for (let k = 0; k < ours.length; k++) {
      const g = gold[i + k];
      assert.ok(g, `${binary}: more frames than the runtime at ${pc.toString(16)}`);
      assert.deepEqual(
        [generic(ours[k][0]), ours[k][1], ours[k][2]],
        [generic(g[1]), g[2], g[3]],
        `${binary} at ${pc.toString(16)}, frame ${k} (${header})`,
      );
      assert.equal(ours[k][3], k === ours.length - 1 ? "0" : "1", "only the last is physical");
      checked++;
    }
    i += ours.length;
  }
  return checked;
}

for (const tc of GO_TOOLCHAINS) {
  Deno.test({
    name: `gopclntab reader matches the Go runtime's own frames (${tc.name})`,
    sanitizeResources: false,
    async fn(t) {
      const dir = await Deno.makeTempDir({ prefix: "agent-gopcln-" });
      try {
        const layouts: string[] = [];
        for (
          const [label, opts] of [
            ["default", {}],
            ["stripped", { ldflags: "-s -w" }],
            ["pie", { buildmode: "pie" }],
          ] as const
        ) {
          await t.step(label, async () => {
            const bin = await buildGo(tc, "go_inline", `${dir}/inline_${label}`, opts);
            // A PIE runs without ASLR, so its first segment is mapped at a known address.
            const pie = label === "pie";
            const run = pie ? ["setarch", "x86_64", "-R"] : ["env"];
            const firstLoad = /^\s*LOAD\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/m.exec(
              await output("readelf", ["-lW", bin]),
            )!;
            const bias = pie ? 0x555555554000n - (BigInt(`0x${firstLoad[1]}`) & ~0xfffn) : 0n;
            const n = await checkAgainstRuntime(bin, bias, run);
            assert.ok(n >= 30, `only ${n} frames checked`);
            layouts.push((await wasm()).goDescribe(await Deno.readFile(bin), [], 0)[0]);
          });
        }
        const expected = tc.name === "go1.19" ? "layout 1.18" : "layout 1.20";
        for (const l of layouts) assert.ok(l.startsWith(expected), l);
        assert.ok(layouts.every((l) => !l.includes("version -")), "version from build info");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

async function goTool(tc: GoToolchain, args: string[]): Promise<string> {
  return await output(tc.go, ["tool", ...args], tc.env);
}

for (const tc of [GO_TOOLCHAINS[0], GO_TOOLCHAINS[2]]) {
  Deno.test({
    name: `gopclntab reader matches go tool nm and objdump (${tc.name})`,
    sanitizeResources: false,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "agent-gopcln-" });
      try {
        const bin = await buildGo(tc, "go_chain", `${dir}/chain`);
        const w = await wasm();
        const file = await Deno.readFile(bin);
        // Every function: entry and name as the symbol table has them (asm symbols carry an
        // .abi0 suffix that the pclntab does not).
        const nm = new Map<bigint, Set<string>>();
        for (const l of (await goTool(tc, ["nm", bin])).split("\n")) {
          const m = /^\s*([0-9a-f]+) [Tt] (.+)$/.exec(l);
          if (!m) continue;
          const at = BigInt(`0x${m[1]}`);
          if (!nm.has(at)) nm.set(at, new Set());
          nm.get(at)!.add(m[2].replace(/\.abi0$/, ""));
        }
        const funcs = w.goDescribe(file, [], 1).slice(1).map((l) => l.split("\t"));
        assert.ok(funcs.length > 1000, `${funcs.length} functions`);
        let named = 0;
        for (const [entry, end, name] of funcs) {
          assert.ok(BigInt(end) > BigInt(entry), `${name}: empty range`);
          const syms = nm.get(BigInt(entry));
          // Generated equality functions have a display name in the pclntab
          // (`type:.eq.[...]T`, `·N`) and a linker name in the symbol table.
          if (syms !== undefined && !/^type[:.]/.test(name)) {
            assert.ok(syms.has(name), `name at ${entry}: ${name}, nm has ${[...syms]}`);
            named++;
          }
        }
        assert.ok(named >= funcs.length * 0.95, `${named} of ${funcs.length} found in nm`);
        const specials = new Set(funcs.map((f) => f[5]));
        for (const s of ["Goexit", "Mstart", "Systemstack", "Mcall", "Asmcgocall"]) {
          assert.ok(specials.has(s), `special function ${s} recognised`);
        }
        // File and line of every 5th instruction of main and the runtime's scheduler files.
        const dump = await goTool(tc, ["objdump", "-s", "^(main|runtime)\\.", bin]);
        const want: Array<{ pc: bigint; fn: string; pos: string }> = [];
        let fn = "";
        let i = 0;
        for (const l of dump.split("\n")) {
          const text = /^TEXT (.+)\(SB\)/.exec(l);
          if (text) fn = text[1].replace(/\.abi0$/, "");
          const ins = /^\s+(\S+:\d+)\s+0x([0-9a-f]+)\s/.exec(l);
          if (ins && !/^type[:.]/.test(fn) && i++ % 5 === 0) {
            want.push({ pc: BigInt(`0x${ins[2]}`), fn, pos: ins[1] });
          }
        }
        assert.ok(want.length > 2000, `${want.length} instructions`);
        const frames = parseFrames(w.goDescribe(file, want.map((x) => x.pc)));
        for (const x of want) {
          const f = frames.get(x.pc);
          assert.ok(f, `no function at ${x.pc.toString(16)} (${x.fn})`);
          const inner = f[0];
          const physical = f[f.length - 1];
          assert.equal(physical[0], x.fn, `function at ${x.pc.toString(16)}`);
          assert.equal(
            `${inner[1].split("/").pop()}:${inner[2]}`,
            x.pos,
            `position at ${x.pc.toString(16)} in ${x.fn}`,
          );
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "gopclntab reader finds the Go text start of a cgo binary and no Go frame in C code",
  sanitizeResources: false,
  async fn() {
    const tc = GO_TOOLCHAINS[0];
    const dir = await Deno.makeTempDir({ prefix: "agent-gopcln-" });
    try {
      const bin = await buildGo(tc, "go_cgo", `${dir}/cgo`, { cgo: true });
      const syms = new Map<string, bigint>();
      for (const l of (await output("nm", [bin])).split("\n")) {
        const m = /^([0-9a-f]+) [Tt] (\S+)$/.exec(l);
        if (m) syms.set(m[2], BigInt(`0x${m[1]}`));
      }
      const w = await wasm();
      const file = await Deno.readFile(bin);
      const header = w.goDescribe(file, [], 0)[0];
      assert.ok(header.includes(`text 0x${syms.get("runtime.text")!.toString(16)} `), header);
      const goFn = syms.get("main.goSpin")!;
      const cFn = syms.get("c_spin")!;
      const frames = parseFrames(w.goDescribe(file, [goFn, cFn]));
      assert.equal(frames.get(goFn)?.at(-1)?.[0], "main.goSpin");
      assert.equal(frames.get(cFn), undefined, "C code has no Go frame");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "gopclntab reader rejects corrupt tables with an error, never a trap",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "agent-gopcln-" });
    try {
      const bin = await buildGo(GO_TOOLCHAINS[0], "go_inline", `${dir}/inline`);
      const file = await Deno.readFile(bin);
      const w = await wasm();
      // Where the table is: the .gopclntab section's file offset and size.
      const sh = await output("readelf", ["-SW", bin]);
      const m = /\.gopclntab\s+PROGBITS\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(sh)!;
      const [off, size] = [parseInt(m[1], 16), parseInt(m[2], 16)];
      const pcs = w.goDescribe(file, [], 1).slice(1, 400).map((l) => BigInt(l.split("\t")[0]));
      let seed = 12345;
      const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      let errors = 0;
      for (let i = 0; i < 300; i++) {
        const copy = file.slice();
        // Header and function table bytes first, then anywhere in the table.
        const span = i < 150 ? Math.min(size, 4096) : size;
        for (let k = 0; k < 8; k++) {
          copy[off + Math.floor(rand() * span)] = Math.floor(rand() * 256);
        }
        try {
          w.goDescribe(copy, pcs);
          w.goDescribe(copy, [], 1);
        } catch (e) {
          assert.ok(e instanceof WasmUnwindError, String(e));
          assert.equal(e.codeName, "invalid_gopclntab", e.message);
          errors++;
        }
      }
      assert.ok(errors > 0, "some mutations are detected");
      // Not a Go binary at all.
      assert.throws(
        () => w.goDescribe(Deno.readFileSync("/bin/true"), []),
        (e: unknown) => e instanceof WasmUnwindError && e.codeName === "invalid_gopclntab",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
