// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// End-to-end DWARF unwinding, as root with the real BPF program: programs built at test time
// without frame pointers (C at -O2, a PIE calling a shared library through the PLT, 300-deep
// recursion, a C++ program that throws, a signal handler interrupting a busy loop, a Rust
// release binary) are profiled together; once their tables are loaded, at least 95 % of each
// one's samples must carry its whole expected chain down to _start.

import { ok } from "node:assert/strict";
import { decodeProfile } from "../src/pprof/mod.ts";
import { startAgent } from "./_lib/agent.ts";
import { hasRun, share, userPart } from "./_lib/profiles.ts";
import { buildPieWithLibrary, buildProgram, killAll, startProgram } from "./_lib/programs.ts";
import { ElfSymbols, namedStacks, unmappedAddresses } from "./_lib/symbols.ts";

const ignore = Deno.uid() !== 0;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_unwind_test: ignored, needs root to load BPF programs");
}

const PROGRAMS = new URL("./programs/", import.meta.url).pathname;
const NO_FP = ["-O2", "-fomit-frame-pointer", "-g0"];

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
}

type Stack = { frames: string[]; count: number };

Deno.test({
  name: "DWARF unwinding gives whole stacks for code without frame pointers",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "agent-unwind-" });
    const store = `${dir}/store`;
    const bin = (name: string) => `${dir}/${name}`;
    await buildProgram("cpu_chain.c", bin("nofp_chain"), NO_FP);
    await buildProgram("recursion.c", bin("recursion"), NO_FP);
    await buildProgram("signal_handler.c", bin("signal_handler"), NO_FP);
    await buildPieWithLibrary(dir, NO_FP);
    await run("g++", [...NO_FP, "-o", bin("thrower"), `${PROGRAMS}thrower.cc`]);
    // Any rustc will do (rustup's on these machines, or Debian's from the wasm-unwind build).
    let rust = false;
    for (const rustc of ["rustc", "/usr/bin/rustc"]) {
      try {
        await run(rustc, [
          "-C",
          "opt-level=3",
          "-o",
          bin("rust_chain"),
          `${PROGRAMS}rust_chain.rs`,
        ]);
        rust = true;
        break;
      } catch {
        // try the next one
      }
    }
    if (!rust) {
      // deno-lint-ignore no-console -- says why a step is left out
      console.error("e2e_unwind_test: no rustc found, the Rust step is left out");
    }
    const names = ["nofp_chain", "recursion", "signal_handler", "pie_main", "thrower"];
    if (rust) names.push("rust_chain");
    // They run longer than the test can take (they are killed at its end): a program that exits
    // before a window ends leaves that window's samples without mappings.
    const children = new Map(names.map((n) => [n, startProgram(bin(n), ["120"])]));
    const agent = await startAgent([
      `--local-store-directory=${store}`,
      "--profiling-duration=2s",
      "--profiling-cpu-sampling-frequency=97",
    ]);
    try {
      const syms = new Map<string, ElfSymbols>();
      for (const n of [...names, "libwork.so"]) syms.set(n, await ElfSymbols.load(bin(n)));
      const binaries = [...syms].map(([n, s]) => ({ path: bin(n), syms: s }));
      // Tables load within a second of a process's first sample on an idle machine; under load it
      // takes longer. Judge the windows that start once no program is waiting for tables.
      const pendingIn = async (name: string): Promise<boolean> => {
        const pid = children.get(name)!.pid;
        let last: { t: bigint; pending: boolean } | undefined;
        for (const e of Deno.readDirSync(store)) {
          if (!e.name.startsWith(`${pid}_`)) continue;
          const p = decodeProfile(await Deno.readFile(`${store}/${e.name}`));
          if (last && p.timeNanos < last.t) continue;
          const pending = namedStacks(p, binaries).some((s) =>
            s.frames.includes("[frame pointers: unwind tables pending]")
          );
          last = { t: p.timeNanos, pending };
        }
        return last?.pending ?? true;
      };
      const deadline = Date.now() + 30_000;
      for (;;) {
        await new Promise((r) => setTimeout(r, 1000));
        const waiting = [];
        for (const n of names) if (await pendingIn(n)) waiting.push(n);
        if (!waiting.length) break;
        if (Date.now() > deadline) {
          throw new Error(`tables still pending for ${waiting.join(", ")}`);
        }
      }
      const from = BigInt(Date.now()) * 1_000_000n;
      const stacksOf = async (name: string): Promise<Stack[]> => {
        const pid = children.get(name)!.pid;
        const out: Stack[] = [];
        for (const e of Deno.readDirSync(store)) {
          if (!e.name.startsWith(`${pid}_`)) continue;
          const p = decodeProfile(await Deno.readFile(`${store}/${e.name}`));
          const unmapped = unmappedAddresses(p, pid);
          ok(unmapped.length === 0, `${name}: frames outside every mapping: ${unmapped}`);
          if (p.timeNanos < from) continue;
          out.push(...namedStacks(p, binaries));
        }
        return out;
      };
      // At least 8 s, and until each program has 50 samples: on a loaded machine the programs
      // get less CPU, so fewer samples per second (a minute at most).
      const measured = Date.now() + 60_000;
      await new Promise((r) => setTimeout(r, 8000));
      for (;;) {
        let fewest = Infinity;
        for (const n of names) {
          fewest = Math.min(fewest, (await stacksOf(n)).reduce((k, x) => k + x.count, 0));
        }
        if (fewest >= 50 || Date.now() > measured) break;
        await new Promise((r) => setTimeout(r, 2000));
      }
      const expect = async (
        name: string,
        check: (user: string[]) => boolean,
        extra?: (stacks: Stack[]) => void,
      ) => {
        const stacks = await stacksOf(name);
        const r = share(stacks, (f) => check(userPart(f)) && f[f.length - 1] === "_start");
        ok(
          r.total >= 50,
          `${name}: only ${r.total} samples; agent log tail:\n${
            agent.stderr().split("\n").slice(-15).join("\n")
          }`,
        );
        ok(
          r.share >= 0.95,
          `${name}: ${(r.share * 100).toFixed(1)} % of ${r.total} samples whole; worst:\n${r.bad}`,
        );
        extra?.(stacks);
      };

      await t.step(
        "C at -O2 without frame pointers",
        () =>
          expect(
            "nofp_chain",
            (f) => hasRun(f, ["chain_c", "chain_b", "chain_a", "main"]) && f[0] === "chain_c",
          ),
      );

      await t.step("300-deep recursion", () =>
        expect("recursion", (f) => {
          if (f[0] !== "spin_at_bottom") return false;
          for (let i = 1; i <= 300; i++) if (f[i] !== "recurse") return false;
          return f[301] === "main";
        }));

      await t.step(
        "a PIE executable calling a library without frame pointers through the PLT",
        () =>
          expect("pie_main", (f) => {
            const i = f.indexOf("call_library");
            if (i < 0 || f[i + 1] !== "main") return false;
            const above = f.slice(0, i).join(",");
            return ["lib_inner,lib_outer", "lib_outer", "lib_tiny", "[plt]", ""].includes(above);
          }),
      );

      await t.step("a C++ program that throws", () =>
        expect(
          "thrower",
          (f) => {
            const i = f.indexOf("catch_loop");
            return i >= 0 && f[i + 1] === "main" &&
              f.slice(0, i).every((x) => x === "?" || x === "throw_one");
          },
          (stacks) => {
            const throwing = share(stacks, (f) => f.includes("throw_one"));
            ok(throwing.share >= 0.3, `only ${(throwing.share * 100).toFixed(0)} % in throw_one`);
          },
        ));

      await t.step(
        "a signal handler interrupting a busy loop shows handler and interrupted code",
        () =>
          expect(
            "signal_handler",
            (f) => {
              const i = f.indexOf("interrupted_loop");
              if (i < 0 || f[i + 1] !== "main") return false;
              const above = f.slice(0, i).join(",");
              // In the handler: handler frames, then the kernel's sigreturn trampoline (libc, "?").
              return above === "" || above === "handler_work,on_alarm,?" || above === "on_alarm,?";
            },
            (stacks) => {
              const inHandler = share(
                stacks,
                (f) => hasRun(userPart(f), ["handler_work", "on_alarm"]),
              );
              ok(
                inHandler.share >= 0.3,
                `only ${(inHandler.share * 100).toFixed(0)} % in the handler`,
              );
            },
          ),
      );

      if (rust) {
        await t.step("a Rust release binary", () =>
          expect("rust_chain", (f) => {
            const i = f.indexOf("rust_leaf");
            return i === 0 && f[1] === "rust_middle" && f[2] === "rust_outer" &&
              /^rust_chain::main/.test(f[3] ?? "");
          }));
      }

      await t.step("/metrics counts the unwinder's work", async () => {
        const m = await (await fetch(`${agent.url}/metrics`)).text();
        ok(/^parca_agent_unwind_tables_built_total [1-9]/m.test(m), "tables built");
        ok(
          /^parca_agent_bpf_samples_total\{outcome="dwarf_frames"\} [1-9]/m.test(m),
          "DWARF frames",
        );
        ok(/^parca_agent_unwind_time_to_tables_seconds_count [1-9]/m.test(m));
      });
    } finally {
      await agent.stop("SIGTERM");
      await killAll(children.values());
      await Deno.remove(dir, { recursive: true });
    }
  },
});
