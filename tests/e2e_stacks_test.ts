// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// End-to-end whole stacks on real programs, as root with the real BPF program: Go goroutines
// (tables from .gopclntab, a frameless leaf, the garbage collector's stack switches) with this
// machine's Go and Go 1.19, a cgo program crossing from Go into C, hand-written assembly
// without CFI called from C without frame pointers, Node.js without flags (V8's embedded
// builtins have no FDEs), and Java with and without -XX:+PreserveFramePointer. Every profile's
// user frames must lie inside the process's mappings.

import { ok } from "node:assert/strict";
import { decodeProfile, type Profile } from "../src/pprof/mod.ts";
import { startAgent } from "./_lib/agent.ts";
import { buildGo, GO_TOOLCHAINS } from "./_lib/go_toolchains.ts";
import { buildAsmProgram, buildJavaSpin, killAll, startProgram } from "./_lib/programs.ts";
import { share, userPart } from "./_lib/profiles.ts";
import { ElfSymbols, namedStacks, outermostFiles, unmappedAddresses } from "./_lib/symbols.ts";

const ignore = Deno.uid() !== 0;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_stacks_test: ignored, needs root to load BPF programs");
}

const PROGRAMS = new URL("./programs/", import.meta.url).pathname;
const NODE = "/usr/bin/node";
const JAVA = "/usr/bin/java";
const LIBC = "/lib/x86_64-linux-gnu/libc.so.6";
const PENDING = "[frame pointers: unwind tables pending]";

type Stack = { frames: string[]; count: number; lastFile: string };

const isMarker = (f: string) => f.startsWith("[");

Deno.test({
  name: "Whole stacks on Go, cgo, assembly without CFI, Node.js and Java",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "agent-stacks-" });
    const store = `${dir}/store`;
    const bin = (name: string) => `${dir}/${name}`;
    const children = new Map<string, Deno.ChildProcess>();
    const syms = new Map<string, ElfSymbols>();
    let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
    try {
      await buildGo(GO_TOOLCHAINS[0], "go_chain", bin("go_chain"));
      await buildGo(GO_TOOLCHAINS[2], "go_chain", bin("go_chain_119"));
      await buildGo(GO_TOOLCHAINS[0], "go_cgo", bin("go_cgo"), { cgo: true });
      await buildAsmProgram(bin("asm_main"));
      await buildJavaSpin(dir);
      for (const n of ["go_chain", "go_chain_119", "go_cgo", "asm_main"]) {
        syms.set(n, await ElfSymbols.load(bin(n)));
      }
      syms.set("node", await ElfSymbols.load(NODE));
      syms.set("libc.so.6", await ElfSymbols.load(LIBC));
      // They outlive the test's windows and are killed at its end.
      for (const n of ["go_chain", "go_chain_119", "go_cgo", "asm_main"]) {
        children.set(n, startProgram(bin(n), ["300"]));
      }
      children.set("node", startProgram(NODE, [`${PROGRAMS}node_spin.js`, "300"]));
      children.set(
        "java_fp",
        startProgram(JAVA, ["-XX:+PreserveFramePointer", "-cp", dir, "Spin", "300"]),
      );
      children.set("java", startProgram(JAVA, ["-cp", dir, "Spin", "300"]));
      agent = await startAgent([
        `--local-store-directory=${store}`,
        "--profiling-duration=2s",
        "--profiling-cpu-sampling-frequency=97",
      ]);
      const binaries = [...syms].map(([n, s]) => ({ path: n, syms: s }));
      const profilesOf = async (name: string): Promise<Profile[]> => {
        const pid = children.get(name)!.pid;
        const out: Profile[] = [];
        for (const e of Deno.readDirSync(store)) {
          if (e.name.startsWith(`${pid}_`)) {
            out.push(decodeProfile(await Deno.readFile(`${store}/${e.name}`)));
          }
        }
        return out.sort((a, b) => Number(a.timeNanos - b.timeNanos));
      };
      // Judge the windows after every program's tables are loaded: the agent builds tables for
      // every process on the host, one build at a time per worker, so on a busy shared machine
      // the node binary's (370k rows) can wait minutes behind others.
      const pendingIn = async (name: string) => {
        const last = (await profilesOf(name)).at(-1);
        return !last || namedStacks(last, binaries).some((s) => s.frames.includes(PENDING));
      };
      const deadline = Date.now() + 240_000;
      for (;;) {
        await new Promise((r) => setTimeout(r, 1000));
        const waiting = [];
        for (const n of children.keys()) if (await pendingIn(n)) waiting.push(n);
        if (!waiting.length) break;
        if (Date.now() > deadline) throw new Error(`tables still pending for ${waiting}`);
      }
      const from = BigInt(Date.now()) * 1_000_000n;
      await new Promise((r) => setTimeout(r, 12_000));
      const stacksOf = async (name: string): Promise<Stack[]> => {
        const out: Stack[] = [];
        for (const p of await profilesOf(name)) {
          const unmapped = unmappedAddresses(p, children.get(name)!.pid);
          ok(unmapped.length === 0, `${name}: frames outside every mapping: ${unmapped}`);
          if (p.timeNanos < from) continue;
          const files = outermostFiles(p);
          namedStacks(p, binaries).forEach((s, i) => out.push({ ...s, lastFile: files[i] }));
        }
        ok(
          out.reduce((n, s) => n + s.count, 0) >= 30,
          `${name}: too few samples; agent log:\n${
            agent!.stderr().split("\n").slice(-15).join("\n")
          }`,
        );
        return out;
      };
      const noMarkers = (stacks: Stack[], max: number, what: string) => {
        const r = share(stacks, (f) => !f.some(isMarker));
        ok(
          1 - r.share <= max,
          `${what}: ${
            ((1 - r.share) * 100).toFixed(1)
          } % of ${r.total} samples carry a marker:\n${r.bad}`,
        );
      };

      for (const name of ["go_chain", "go_chain_119"]) {
        await t.step(`Go goroutines, frameless leaf and GC work (${name})`, async () => {
          const stacks = await stacksOf(name);
          const chain = ["main.leaf", "main.middle", "main.outer", "main.worker"];
          const inChain = stacks.filter((s) => chain.includes(userPart(s.frames)[0]));
          const whole = share(inChain, (frames) => {
            const f = userPart(frames);
            const i = f.indexOf("main.middle");
            if (f[0] === "main.leaf" && i !== 1) return false;
            const from = chain.indexOf(f[0]);
            const rest = chain.slice(from);
            return rest.every((c, k) => f[k] === c) && f.at(-1) === "runtime.goexit.abi0";
          });
          ok(
            whole.share >= 0.95,
            `${name}: ${
              (whole.share * 100).toFixed(1)
            } % of ${whole.total} chain samples whole:\n${whole.bad}`,
          );
          noMarkers(stacks, 0.02, name);
          // Every stack ends at a root: a goroutine's goexit, or g0's mstart / rt0_go, or mcall
          // (the g0 stack of a parked goroutine), as Go's own tracebacks end.
          const roots = share(stacks, (frames) => {
            const last = userPart(frames).at(-1) ?? "";
            return /^runtime\.(goexit|mstart|rt0_go|mcall)/.test(last) || isMarker(last);
          });
          ok(roots.share >= 0.98, `${name}: stacks not ending at a root:\n${roots.bad}`);
          const gc = share(
            stacks,
            (frames) => frames.some((f) => /gcBgMarkWorker|gcAssistAlloc/.test(f)),
          );
          ok(gc.good > 0, `${name}: no garbage-collector samples`);
          // Back from g0 to the goroutine at systemstack: the closure it ran is followed by the
          // function that made the closure and called systemstack (before Go 1.21 systemstack
          // has no frame, and a frame-pointer step skipped that caller).
          const switched = stacks.filter((s) => {
            const f = userPart(s.frames);
            const i = f.indexOf("runtime.systemstack.abi0");
            return i > 0 && /\.func\d+$/.test(f[i - 1]);
          });
          const callers = share(switched, (frames) => {
            const f = userPart(frames);
            const i = f.indexOf("runtime.systemstack.abi0");
            return f[i - 1].startsWith(`${f[i + 1]}.`);
          });
          ok(
            callers.total > 0 && callers.share >= 0.95,
            `${name}: ${callers.good} of ${callers.total} systemstack closures have their caller:\n${callers.bad}`,
          );
        });
      }

      await t.step("cgo: Go into C and back", async () => {
        const stacks = await stacksOf("go_cgo");
        const inC = stacks.filter((s) => userPart(s.frames)[0] === "c_work");
        const r = share(inC, (frames) => {
          const f = userPart(frames);
          return f[1] === "c_spin" && f.includes("runtime.asmcgocall.abi0") &&
            f.includes("main.goSpin") && f.at(-1) === "runtime.goexit.abi0";
        });
        ok(
          r.total >= 20 && r.share >= 0.9,
          `C frames under Go: ${r.share} of ${r.total}:\n${r.bad}`,
        );
        const back = stacks.filter((s) => userPart(s.frames)[0] === "main.goWork");
        const b = share(back, (frames) => {
          const f = userPart(frames);
          // goCallback is inlined into its cgo export wrapper.
          return /goCallback/.test(f[1]) && f.some((x) => /cgocallback/.test(x)) &&
            f.includes("main.goSpin") && f.at(-1) === "runtime.goexit.abi0";
        });
        ok(
          b.total >= 20 && b.share >= 0.9,
          `Go called back from C: ${b.share} of ${b.total}:\n${b.bad}`,
        );
        noMarkers(stacks, 0.02, "go_cgo");
      });

      await t.step("assembly without CFI called from C without frame pointers", async () => {
        const stacks = await stacksOf("asm_main");
        const r = share(stacks, (frames) => {
          const f = userPart(frames);
          const i = f.indexOf("c_inner");
          return i >= 0 && f[i + 1] === "c_outer" && f[i + 2] === "main" && f.at(-1) === "_start" &&
            (i === 0 || f[i - 1] === "asm_spin");
        });
        ok(r.share >= 0.95, `${(r.share * 100).toFixed(1)} % of ${r.total} whole:\n${r.bad}`);
      });

      await t.step("Node.js without flags reaches node::Start and libc's start", async () => {
        const stacks = await stacksOf("node");
        const r = share(stacks, (frames) => {
          const f = userPart(frames);
          const i = f.indexOf("node::Start");
          return i >= 0 && f.at(-1) === "_start" && !f.some(isMarker) &&
            f.slice(i + 1, -1).some((x) => /libc_start/.test(x));
        });
        ok(r.share >= 0.9, `${(r.share * 100).toFixed(1)} % of ${r.total} whole:\n${r.bad}`);
        noMarkers(stacks, 0.05, "node");
      });

      await t.step("Java with -XX:+PreserveFramePointer reaches thread start", async () => {
        const stacks = await stacksOf("java_fp");
        const r = share(
          stacks,
          (f, s) => s.lastFile.endsWith("libc.so.6") && !f.some(isMarker),
        );
        ok(r.share >= 0.95, `${(r.share * 100).toFixed(1)} % of ${r.total} whole:\n${r.bad}`);
      });

      await t.step(
        "Java without frame pointers ends in the JIT marker, not a read fault",
        async () => {
          const stacks = await stacksOf("java");
          const marker = "[jit: no frame pointers; run the JVM with -XX:+PreserveFramePointer]";
          // Spin's compiled leaf uses rbp for data: almost every sample stops there.
          const withMarker = share(stacks, (f) => f.includes(marker));
          ok(withMarker.share >= 0.8, `JIT marker in ${withMarker.share}:\n${withMarker.bad}`);
          const faults = share(stacks, (f) => f.some((x) => x.includes("read fault")));
          ok(faults.good === 0, `read faults:\n${faults.bad}`);
          const m = await (await fetch(`${agent!.url}/metrics`)).text();
          ok(m.includes(`reason="marked:${marker}"`), "the marker is counted per reason");
        },
      );
    } finally {
      await agent?.stop("SIGTERM");
      await killAll(children.values());
      await Deno.remove(dir, { recursive: true });
    }
  },
});
