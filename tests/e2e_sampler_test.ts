// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// End-to-end, as root, with the real BPF program on this kernel: test programs are built at test
// time, the agent profiles them into a local store, and the profiles, /query, /metrics, /ready
// and the status page are checked.

import { ok, strictEqual } from "node:assert/strict";
import { decodeProfile, validateProfile } from "../src/pprof/mod.ts";
import type { Profile } from "../src/pprof/mod.ts";
import { startAgent } from "./_lib/agent.ts";
import { buildProgram, startProgram } from "./_lib/programs.ts";
import { ElfSymbols, namedStacks, unmappedAddresses } from "./_lib/symbols.ts";

const isRoot = Deno.uid() === 0;
const ignore = !isRoot;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_sampler_test: ignored, needs root to load BPF programs");
}

async function localProfiles(dir: string, pid: number): Promise<Profile[]> {
  const out: Profile[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (e.name.startsWith(`${pid}_parca_agent_cpu_`) && e.name.endsWith(".pb.gz")) {
      const p = decodeProfile(await Deno.readFile(`${dir}/${e.name}`));
      const unmapped = unmappedAddresses(p, pid);
      if (unmapped.length) throw new Error(`${e.name}: frames outside every mapping: ${unmapped}`);
      out.push(p);
    }
  }
  return out;
}

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Ids of the loaded BPF programs: other agents may run on the host, so tests compare by id. */
async function loadedBpfPrograms(): Promise<Set<number>> {
  const out = await new Deno.Command("bpftool", { args: ["-j", "prog", "list"] }).output();
  const progs: Array<{ id: number }> = JSON.parse(new TextDecoder().decode(out.stdout) || "[]");
  return new Set(progs.map((p) => p.id));
}

/**
 * Waits for BPF programs to be unloaded, as `bpftool prog list` shows them. The kernel unloads a
 * program when its last reference goes (fds, links, the perf events it is attached to), and some
 * of those are dropped by deferred kernel work after the process was reaped, so an id may stay
 * listed for a moment after the exit.
 *
 * @param ids The programs.
 * @param ms How long to wait at most.
 * @returns The ones still loaded when the time is up (none: all gone).
 */
async function stillLoadedAfter(ids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = await loadedBpfPrograms();
    const still = ids.filter((id) => left.has(id));
    if (!still.length || Date.now() > deadline) return still;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** How long the kernel may take to free an exited agent's programs. */
const UNLOAD_MS = 3000;

/** Ids of the BPF programs whose fds a process holds (the `prog_id` of its fds' fdinfo). */
function bpfProgramsOf(pid: number): number[] {
  const ids = new Set<number>();
  for (const e of Deno.readDirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const m = /^prog_id:\s*(\d+)$/m.exec(Deno.readTextFileSync(`/proc/${pid}/fdinfo/${e.name}`));
      if (m) ids.add(Number(m[1]));
    } catch {
      // the fd was closed meanwhile
    }
  }
  return [...ids];
}

Deno.test({
  name: "agent profiles a frame-pointer program, a syscall program and serves them over HTTP",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "agent-e2e-" });
    const store = `${dir}/store`;
    // -O0: GCC 12 gives leaf functions no frame at -O1 and above even with
    // -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer, which hides the leaf's caller from a
    // frame-pointer walk (DWARF unwinding fixes that; this test is about the frame-pointer path).
    const chainBin = await buildProgram("cpu_chain.c", `${dir}/cpu_chain`, [
      "-O0",
      "-fno-omit-frame-pointer",
    ]);
    const sysBin = await buildProgram("syscall_heavy.c", `${dir}/syscall_heavy`, [
      "-O1",
      "-fno-omit-frame-pointer",
    ]);
    // A process whose name and command line are HTML: the status page must escape them.
    const evilBin = await buildProgram("cpu_chain.c", `${dir}/<b>x`, ["-O1"]);
    const chain = startProgram(chainBin, ["30"]);
    const sys = startProgram(sysBin, ["30"]);
    const evil = startProgram(evilBin, ["30", '"><script>alert(1)</script>']);
    const agent = await startAgent([
      `--local-store-directory=${store}`,
      "--profiling-duration=2s",
      "--profiling-cpu-sampling-frequency=97",
      "--log-level=debug",
    ]);
    try {
      await t.step("the CPU-bound program's samples carry the whole chain in order", async () => {
        const syms = await ElfSymbols.load(chainBin);
        const stacks = await waitFor("two windows of cpu_chain profiles", async () => {
          const ps = await localProfiles(store, chain.pid);
          const all = ps.flatMap((p) => namedStacks(p, [{ path: chainBin, syms }]));
          const total = all.reduce((n, s) => n + s.count, 0);
          return ps.length >= 2 && total >= 100 ? all : undefined;
        }, 20_000);
        let total = 0;
        let complete = 0;
        for (const s of stacks) {
          total += s.count;
          // Kernel frames (a timer interrupt, a page fault) may sit above the leaf; below it the
          // chain must be whole and in order.
          const f = s.frames;
          const i = f.indexOf("chain_c");
          const ordered = i >= 0 && f[i + 1] === "chain_b" && f[i + 2] === "chain_a" &&
            f[i + 3] === "main";
          if (ordered) complete += s.count;
        }
        const share = complete / total;
        ok(
          share >= 0.95,
          `only ${(share * 100).toFixed(1)} % of ${total} samples had the whole chain`,
        );
        ok(
          stacks.every((s) =>
            s.labels.thread_id === String(chain.pid) && s.labels.thread_name === "cpu_chain"
          ),
        );
      });

      await t.step("profiles follow every rule the Parca server checks", async () => {
        const ps = await localProfiles(store, chain.pid);
        for (const p of ps) {
          strictEqual(validateProfile(p).join("; "), "");
          strictEqual(p.period, 1_000_000_000n / 97n);
          ok(p.timeNanos > 0n && p.durationNanos > 0n);
          strictEqual(p.stringTable[Number(p.sampleType[0].type)], "samples");
          strictEqual(p.stringTable[Number(p.sampleType[0].unit)], "count");
          const main = p.mapping.find((m) =>
            p.stringTable[Number(m.filename)].endsWith("/cpu_chain")
          );
          ok(main, "the executable's mapping is present");
          ok(
            p.stringTable[Number(main.buildId)].length >= 32,
            "the executable's mapping has a build ID",
          );
        }
      });

      await t.step(
        "the syscall program's profiles contain kernel frames under the syscall entry",
        async () => {
          // Count samples, not seconds: the machine may be shared.
          const p = await waitFor("100 samples of syscall_heavy", async () => {
            const ps = await localProfiles(store, sys.pid);
            const n = ps.reduce(
              (a, x) => a + x.sample.reduce((b, s) => b + Number(s.value[0]), 0),
              0,
            );
            return n >= 100 ? ps : undefined;
          }, 20_000);
          // The names of each sample's kernel frames (user frames carry no names here, but a
          // symbolized libc `read` must not stand in for the kernel's).
          const kernelNames = (prof: Profile) => {
            const kernel = new Set(
              prof.mapping.filter((m) =>
                prof.stringTable[Number(m.filename)] === "[kernel.kallsyms]"
              ).map((m) => m.id),
            );
            const fn = new Map(prof.function.map((f) => [f.id, prof.stringTable[Number(f.name)]]));
            const loc = new Map(
              prof.location.map((l) => [
                l.id,
                kernel.has(l.mappingId) ? l.line.map((x) => fn.get(x.functionId)!) : [],
              ]),
            );
            return prof.sample.map((s) => ({
              names: s.locationId.flatMap((id) => loc.get(id)!),
              n: Number(s.value[0]),
            }));
          };
          const samples = p.flatMap(kernelNames);
          const total = samples.reduce((n, s) => n + s.n, 0);
          const underEntry = samples.filter((s) =>
            s.names.some((n) => /^(entry_SYSCALL_64|do_syscall_64)/.test(n)) &&
            s.names.some((n) => /read/.test(n))
          ).reduce((n, s) => n + s.n, 0);
          // perf record -g (cpu-clock) on this program puts 0.983 of its samples under read_zero
          // below the syscall entry, and the agent 0.982 of the same process's at the same time
          // (the rest: do_syscall_64 before the dispatch, user space between reads); 0.9 leaves
          // room for a window of 100 samples. See tests/programs/syscall_heavy.c for why the
          // program reads 256 KiB at a time.
          ok(
            underEntry / total >= 0.9,
            `${underEntry} of ${total} samples show a read under the syscall entry`,
          );
          const kernelMapping = p[0].mapping.find((m) =>
            p[0].stringTable[Number(m.filename)] === "[kernel.kallsyms]"
          );
          ok(kernelMapping, "kernel frames sit in a [kernel.kallsyms] mapping");
        },
      );

      await t.step("/query returns a valid profile of the program's pid", async () => {
        const res = await fetch(
          `${agent.url}/query?query=${encodeURIComponent(`{pid="${chain.pid}"}`)}`,
        );
        strictEqual(res.status, 200);
        strictEqual(res.headers.get("content-type"), "application/vnd.google.protobuf+gzip");
        const p = decodeProfile(new Uint8Array(await res.arrayBuffer()));
        strictEqual(validateProfile(p).join("; "), "");
        ok(p.sample.length > 0);
        const bad = await fetch(`${agent.url}/query?query=${encodeURIComponent("{pid=")}`);
        strictEqual(bad.status, 400);
        await bad.body?.cancel();
      });

      await t.step("/metrics and /ready answer", async () => {
        const ready = await fetch(`${agent.url}/ready`);
        strictEqual(ready.status, 200);
        await ready.body?.cancel();
        const m = await (await fetch(`${agent.url}/metrics`)).text();
        ok(/^parca_agent_profiler_samples_total [1-9]/m.test(m), "samples_total counts samples");
        ok(/^parca_agent_bpf_samples_total\{outcome="recorded"\} [1-9]/m.test(m));
        ok(/^process_resident_memory_bytes [1-9]/m.test(m));
      });

      await t.step("the status page lists the programs with escaped labels", async () => {
        const html = await (await fetch(`${agent.url}/`)).text();
        ok(html.includes(String(chain.pid)), "lists the chain program");
        ok(html.includes("&lt;b&gt;x"), "shows the HTML-named program escaped");
        ok(!html.includes("<b>x"), "never shows it raw");
        ok(!html.includes("<script>alert(1)</script>"));
      });

      await t.step("SIGTERM flushes the window, detaches and exits 0 within 2 s", async () => {
        const ids = bpfProgramsOf(agent.child.pid);
        ok(ids.length > 0, "the agent holds its BPF program while it runs");
        const { code, ms } = await agent.stop("SIGTERM");
        strictEqual(code, 0, agent.stderr());
        ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
        const still = await stillLoadedAfter(ids, UNLOAD_MS);
        ok(!still.length, `the BPF program is gone ${UNLOAD_MS} ms after the exit: still ${still}`);
      });
    } finally {
      await agent.stop("SIGKILL");
      for (const c of [chain, sys, evil]) {
        try {
          c.kill("SIGKILL");
        } catch {
          // exited
        }
        await c.status;
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "agent killed with SIGKILL leaves no BPF program or perf event attached",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const agent = await startAgent(["--profiling-duration=1s"]);
    const ids = bpfProgramsOf(agent.child.pid);
    ok(ids.length > 0, "the agent holds its BPF program while it runs");
    await agent.stop("SIGKILL");
    // The kernel releases programs and perf events when the last fd closes at process exit.
    const still = await stillLoadedAfter(ids, UNLOAD_MS);
    ok(!still.length, `still loaded ${UNLOAD_MS} ms after the exit: ${still}`);
  },
});
