// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// End-to-end, as root with the real BPF program: a program without frame pointers is sampled
// and unwound whole first, then dlopen()s a library without frame pointers and spins in it.
// The library's mapping did not exist when the program's mappings were first written and its
// walks were first cached (BPF's per-CPU rule cache and mapping hints, bpf/maps.h): at least
// 95 % of the samples after it must still carry the whole chain through the library down to
// _start, and no frame may lie outside the process's mappings.

import { ok } from "node:assert/strict";
import { decodeProfile } from "../src/pprof/mod.ts";
import { startAgent } from "./_lib/agent.ts";
import { hasRun, share, userPart } from "./_lib/profiles.ts";
import { buildProgram, killAll, startProgram } from "./_lib/programs.ts";
import { ElfSymbols, namedStacks, unmappedAddresses } from "./_lib/symbols.ts";

const ignore = Deno.uid() !== 0;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_dlopen_test: ignored, needs root to load BPF programs");
}

const NO_FP = ["-O2", "-fomit-frame-pointer", "-g0"];
const PENDING = "[frame pointers: unwind tables pending]";

type Stack = { frames: string[]; count: number };

Deno.test({
  name: "a library dlopen()ed after the program was sampled and unwound is unwound through",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "agent-dlopen-" });
    const store = `${dir}/store`;
    const lib = await buildProgram("libwork.c", `${dir}/libwork.so`, [
      ...NO_FP,
      "-fPIC",
      "-shared",
    ]);
    const exe = await buildProgram("dlopen_late.c", `${dir}/dlopen_late`, NO_FP);
    const trigger = `${dir}/go`;
    const child = startProgram(exe, [lib, trigger, "120"]);
    const agent = await startAgent([
      `--local-store-directory=${store}`,
      "--profiling-duration=2s",
      "--profiling-cpu-sampling-frequency=97",
    ]);
    try {
      const binaries = [
        { path: exe, syms: await ElfSymbols.load(exe) },
        { path: lib, syms: await ElfSymbols.load(lib) },
      ];
      /** The program's stacks in profiles that start at or after `from` (ns), and the latest's. */
      const stacksSince = async (from: bigint): Promise<{ all: Stack[]; latest: Stack[] }> => {
        const all: Stack[] = [];
        let latest: { t: bigint; stacks: Stack[] } | undefined;
        for (const e of Deno.readDirSync(store)) {
          if (!e.name.startsWith(`${child.pid}_`)) continue;
          const p = decodeProfile(await Deno.readFile(`${store}/${e.name}`));
          const unmapped = unmappedAddresses(p, child.pid);
          ok(unmapped.length === 0, `frames outside every mapping: ${unmapped}`);
          if (p.timeNanos < from) continue;
          const stacks = namedStacks(p, binaries);
          all.push(...stacks);
          if (!latest || p.timeNanos > latest.t) latest = { t: p.timeNanos, stacks };
        }
        return { all, latest: latest?.stacks ?? [] };
      };
      const whole = (run: string[]) => (f: string[]) =>
        hasRun(userPart(f), run) && f[f.length - 1] === "_start";
      const before = ["spin_before", "before_dlopen", "main"];
      const after = ["lib_inner", "lib_outer", "after_dlopen", "main"];
      /** Waits until a window after `from` has whole `run` stacks and nothing pending. */
      const settled = async (from: bigint, run: string[], what: string) => {
        const deadline = Date.now() + 30_000;
        for (;;) {
          await new Promise((r) => setTimeout(r, 1000));
          const { latest } = await stacksSince(from);
          const pending = latest.some((s) => s.frames.includes(PENDING));
          if (!pending && share(latest, whole(run)).good > 0) return;
          if (Date.now() > deadline) {
            throw new Error(
              `${what}: no settled window; latest:\n${share(latest, whole(run)).bad}`,
            );
          }
        }
      };
      // First sampled, its mappings written and its walks cached without the library.
      await settled(0n, before, "before the dlopen");
      const t0 = BigInt(Date.now()) * 1_000_000n;
      await Deno.writeTextFile(trigger, "");
      // The library's samples fall outside the known mappings until the maps are reread and
      // its table is loaded (pending meanwhile); judge the windows after that.
      await settled(t0, after, "after the dlopen");
      const from = BigInt(Date.now()) * 1_000_000n;
      const measured = Date.now() + 60_000;
      await new Promise((r) => setTimeout(r, 8000));
      let stacks: Stack[] = [];
      for (;;) {
        stacks = (await stacksSince(from)).all;
        if (stacks.reduce((k, s) => k + s.count, 0) >= 50 || Date.now() > measured) break;
        await new Promise((r) => setTimeout(r, 2000));
      }
      const r = share(stacks, whole(after));
      ok(r.total >= 50, `only ${r.total} samples`);
      ok(
        r.share >= 0.95,
        `${(r.share * 100).toFixed(1)} % of ${r.total} samples whole; worst:\n${r.bad}`,
      );
    } finally {
      await agent.stop("SIGTERM");
      await killAll([child]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
