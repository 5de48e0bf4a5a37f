// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// End-to-end process records, as root with the real BPF program and the default 10 s window:
// programs built without frame pointers that exit, exec and reuse a pid before their window
// ends must keep every sample attributed to the image it was taken in, with that image's
// mappings and whole call chains.
//
// The schedule is aligned to the agent's windows (read from the first profiles it writes):
//   window 1 +1.0 s  nofp_chain runs 4 s                     (exits well before the window ends)
//   window 1 +5.5 s  reuse_first then reuse_second, 1.5 s each, under one pid (clone3 set_tid)
//   window 1 +8.0 s  exits_late runs 3 s                     (exits 1 s after window 2 starts)
//   window 2 +1.5 s  spin_then_exec spins 3 s, then execs exec_target, which spins 3 s

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { startAgent } from "./_lib/agent.ts";
import {
  hasRun,
  readStore,
  share,
  type StoredProfile,
  userPart,
  waitFor,
} from "./_lib/profiles.ts";
import { buildProgram, killAll } from "./_lib/programs.ts";
import { ElfSymbols } from "./_lib/symbols.ts";

const ignore = Deno.uid() !== 0;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_records_test: ignored, needs root to load BPF programs");
}

const NO_FP = ["-O2", "-fomit-frame-pointer", "-g0"];
const WINDOW_MS = 10_000;
const CHAIN = ["chain_c", "chain_b", "chain_a", "main"];

/** A free pid below pid_max, far from the ones the kernel hands out next. */
function freePid(): number {
  const max = Number(Deno.readTextFileSync("/proc/sys/kernel/pid_max").trim());
  for (let i = 0; i < 1000; i++) {
    const pid = 2000 + Math.floor(Math.random() * (Math.min(max, 4_000_000) - 3000));
    try {
      Deno.statSync(`/proc/${pid}`);
    } catch {
      return pid;
    }
  }
  throw new Error("no free pid found");
}

function sleepUntil(t: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));
}

function logTail(agent: { stderr(): string }): string {
  return agent.stderr().split("\n").slice(-15).join("\n");
}

Deno.test({
  name:
    "process records keep every sample of exiting, exec'ing and pid-reusing programs attributed",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "agent-records-" });
    const store = `${dir}/store`;
    const bin = (name: string) => `${dir}/${name}`;
    for (const n of ["nofp_chain", "reuse_first", "reuse_second", "exits_late", "exec_target"]) {
      await buildProgram("cpu_chain.c", bin(n), NO_FP);
    }
    await buildProgram("spin_then_exec.c", bin("spin_then_exec"), NO_FP);
    await buildProgram("spawn_with_pid.c", bin("spawn_with_pid"), ["-O2"]);
    const names = [
      "nofp_chain",
      "reuse_first",
      "reuse_second",
      "exits_late",
      "exec_target",
      "spin_then_exec",
    ];
    const binaries = await Promise.all(
      names.map(async (n) => ({ path: bin(n), syms: await ElfSymbols.load(bin(n)) })),
    );
    const agent = await startAgent([`--local-store-directory=${store}`]);
    const children: Deno.ChildProcess[] = [];
    const run = (path: string, args: string[]) => {
      const c = new Deno.Command(path, { args, stdout: "null", stderr: "null", stdin: "null" })
        .spawn();
      children.push(c);
      return c;
    };
    try {
      // Window 0's profiles tell where the windows are. A busy shell makes sure there are some:
      // an idle agent takes no sample of itself, so on a quiet host a window may hold none.
      const spin = run("/bin/sh", ["-c", "while :; do :; done"]);
      let first: StoredProfile[] = [];
      await waitFor(
        async () => (first = await readStore(store, [])).length > 0,
        30_000,
        "a window",
      );
      await killAll([spin]);
      const w1 = Number(first[0].timeNanos / 1_000_000n) + WINDOW_MS;
      const w2 = w1 + WINDOW_MS;
      await sleepUntil(w1 + 1000);
      const chain = run(bin("nofp_chain"), ["4"]);
      await sleepUntil(w1 + 5500);
      const reusedPid = freePid();
      const reuse = (async () => {
        const a = await new Deno.Command(bin("spawn_with_pid"), {
          args: [String(reusedPid), bin("reuse_first"), "1.5"],
          stderr: "piped",
        }).output();
        const b = await new Deno.Command(bin("spawn_with_pid"), {
          args: [String(reusedPid), bin("reuse_second"), "1.5"],
          stderr: "piped",
        }).output();
        const err = new TextDecoder().decode(a.stderr) + new TextDecoder().decode(b.stderr);
        if (!a.success || !b.success) throw new Error(`spawn_with_pid failed: ${err}`);
      })();
      await sleepUntil(w1 + 8000);
      const late = run(bin("exits_late"), ["3"]);
      await sleepUntil(w2 + 1500);
      const exec = run(bin("spin_then_exec"), ["3", bin("exec_target"), "3"]);
      await reuse;
      for (const c of [chain, late, exec]) {
        const s = await c.status;
        ok(s.success, `a test program failed (exit ${s.code})`);
      }
      // Window 2 ends at w2 + 10 s; its profiles are written right after.
      await sleepUntil(w2 + WINDOW_MS + 1500);
      const pids = new Set([chain.pid, late.pid, exec.pid, reusedPid]);
      await waitFor(
        async () =>
          (await readStore(store, [], pids)).some((p) =>
            p.timeNanos >= BigInt(w2) * 1_000_000n - 500_000_000n
          ),
        15_000,
        "window 2's profiles",
      );
      const profiles = await readStore(store, binaries, pids);
      const of = (pid: number) => profiles.filter((p) => p.pid === pid);
      const describe = (ps: StoredProfile[]) =>
        ps.map((p) => `${p.file}: ${p.samples} samples, mappings ${p.mappingFiles.join(",")}`)
          .join("\n");
      const whole = (ps: StoredProfile[], seq: string[]) =>
        share(
          ps.flatMap((p) => p.stacks),
          (f) => hasRun(userPart(f), seq) && f[f.length - 1] === "_start",
        );

      await t.step(
        "a program that runs 4 s inside one window: whole chains, every frame mapped",
        () => {
          const ps = of(chain.pid);
          strictEqual(ps.length, 1, `one window, one profile:\n${describe(ps)}`);
          ok(ps[0].mappingFiles.includes("nofp_chain"), describe(ps));
          strictEqual(
            ps[0].unmappedSamples,
            0,
            `samples with unmapped user frames:\n${describe(ps)}`,
          );
          const r = whole(ps, CHAIN);
          ok(r.total >= 20, `only ${r.total} samples; agent log:\n${logTail(agent)}`);
          ok(
            r.share >= 0.95,
            `${(r.share * 100).toFixed(1)} % of ${r.total} whole; worst:\n${r.bad}`,
          );
        },
      );

      await t.step(
        "a program that exits 1 s after a window starts: its last window is mapped",
        () => {
          const ps = of(late.pid);
          strictEqual(ps.length, 2, `two windows:\n${describe(ps)}`);
          for (const p of ps) {
            ok(p.mappingFiles.includes("exits_late"), describe(ps));
            strictEqual(p.unmappedSamples, 0, `unmapped user frames:\n${describe(ps)}`);
          }
          ok(ps[1].samples >= 5, `the last window has ${ps[1].samples} samples`);
          const r = whole(ps, CHAIN);
          ok(
            r.share >= 0.95,
            `${(r.share * 100).toFixed(1)} % of ${r.total} whole; worst:\n${r.bad}`,
          );
        },
      );

      await t.step(
        "exec mid-window: each image's samples carry their own chain and mappings",
        () => {
          const ps = of(exec.pid);
          const before = ps.filter((p) => p.mappingFiles.includes("spin_then_exec"));
          const after = ps.filter((p) => p.mappingFiles.includes("exec_target"));
          strictEqual(before.length, 1, describe(ps));
          strictEqual(after.length, 1, describe(ps));
          strictEqual(before[0].timeNanos, after[0].timeNanos, "both images in one window");
          ok(!before[0].mappingFiles.includes("exec_target"), describe(ps));
          ok(!after[0].mappingFiles.includes("spin_then_exec"), describe(ps));
          for (const p of [before[0], after[0]]) strictEqual(p.unmappedSamples, 0, describe(ps));
          // No sample crosses over: the old image's frames never appear after the exec.
          deepStrictEqual(
            after[0].stacks.filter((s) => s.frames.some((f) => f.startsWith("before_exec"))),
            [],
          );
          deepStrictEqual(before[0].stacks.filter((s) => s.frames.includes("chain_c")), [], "");
          const pre = whole(before, ["before_exec_leaf", "before_exec", "main"]);
          const post = whole(after, CHAIN);
          ok(pre.total >= 10 && post.total >= 10, `${pre.total} and ${post.total} samples`);
          ok(pre.share >= 0.8, `before exec: ${(pre.share * 100).toFixed(1)} % whole:\n${pre.bad}`);
          ok(
            post.share >= 0.8,
            `after exec: ${(post.share * 100).toFixed(1)} % whole:\n${post.bad}`,
          );
        },
      );

      await t.step("pid reuse: two processes with one pid are never merged", () => {
        const ps = of(reusedPid);
        const firsts = ps.filter((p) => p.mappingFiles.includes("reuse_first"));
        const seconds = ps.filter((p) => p.mappingFiles.includes("reuse_second"));
        ok(firsts.length >= 1 && seconds.length >= 1, describe(ps));
        for (const p of ps) {
          ok(
            !(p.mappingFiles.includes("reuse_first") && p.mappingFiles.includes("reuse_second")),
            `merged:\n${describe(ps)}`,
          );
          strictEqual(p.unmappedSamples, 0, `unmapped user frames:\n${describe(ps)}`);
        }
        // Their labels tell them apart too.
        const comms = (list: StoredProfile[]) =>
          new Set(list.flatMap((p) => p.stacks.map((s) => s.labels.thread_name)));
        deepStrictEqual([...comms(firsts)], ["reuse_first"]);
        deepStrictEqual([...comms(seconds)], ["reuse_second"]);
      });

      await t.step("/metrics shows records ended and freed", async () => {
        const m = await (await fetch(`${agent.url}/metrics`)).text();
        ok(/^parca_agent_process_records_freed_total [1-9]/m.test(m), "records freed");
        ok(/^parca_agent_process_events_total\{type="exec"\} [1-9]/m.test(m), "exec events");
        ok(/^parca_agent_process_events_total\{type="exit"\} [1-9]/m.test(m), "exit events");
      });
    } finally {
      await killAll(children);
      await agent.stop("SIGTERM");
      await Deno.remove(dir, { recursive: true });
    }
  },
});
