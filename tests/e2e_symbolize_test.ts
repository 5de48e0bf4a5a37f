// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Local symbolization end to end, as root with the real BPF program: programs built at test time
// are profiled and their profiles fetched with /query?symbolize=1; every frame name is read from
// the profile alone (no nm, no binaries). A PIE without frame pointers calling a shared library
// gives its whole named chain down to libc's __libc_start_call_main (named from libc6-dbg's
// separate debug file) in at least 90 % of samples; C++ frames are demangled; a function inlined
// by the compiler is its own line of a location. The local store's symbolized files read the same
// in `go tool pprof` and upstream pprof; without symbolize=1 user frames stay addresses.

import { deepEqual, ok } from "node:assert/strict";
import { decodeProfile, type Profile } from "../src/pprof/mod.ts";
import { startAgent } from "./_lib/agent.ts";
import { buildGo, GO_TOOLCHAINS } from "./_lib/go_toolchains.ts";
import { buildPieWithLibrary, buildProgram, startProgram } from "./_lib/programs.ts";

const ignore = Deno.uid() !== 0;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_symbolize_test: ignored, needs root to load BPF programs");
}

const PROGRAMS = new URL("./programs/", import.meta.url).pathname;
const NO_FP = ["-O2", "-fomit-frame-pointer", "-g0"];
const PENDING = "[frame pointers: unwind tables pending]";

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${d.decode(out.stderr)}`);
  return d.decode(out.stdout);
}

interface Frame {
  name: string;
  systemName: string;
  file: string;
  line: number;
  kernel: boolean;
}

/** Each sample's frames as the profile names them, leaf first, inline frames expanded. */
function stacks(p: Profile): Array<{ frames: Frame[]; count: number }> {
  const s = (i: bigint) => p.stringTable[Number(i)];
  const locs = new Map(p.location.map((l) => [l.id, l]));
  const mappings = new Map(p.mapping.map((m) => [m.id, m]));
  const fns = new Map(p.function.map((f) => [f.id, f]));
  return p.sample.map((sample) => ({
    count: Number(sample.value[0]),
    frames: sample.locationId.flatMap((id) => {
      const loc = locs.get(id)!;
      const m = mappings.get(loc.mappingId);
      const kernel = m !== undefined && s(m.filename) === "[kernel.kallsyms]";
      if (loc.line.length === 0) {
        return [{ name: "", systemName: "", file: "", line: 0, kernel }];
      }
      return loc.line.map((ln) => {
        const f = fns.get(ln.functionId)!;
        return {
          name: s(f.name),
          systemName: s(f.systemName),
          file: s(f.filename),
          line: Number(ln.line),
          kernel,
        };
      });
    }),
  }));
}

function names(frames: Frame[]): string[] {
  return frames.filter((f) => !f.kernel).map((f) => f.name);
}

Deno.test({
  name: "/query?symbolize=1 names native frames from symbols and DWARF, in the profile itself",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "agent-symbolize-" });
    const store = `${dir}/store`;
    const bin = (name: string) => `${dir}/${name}`;
    await buildPieWithLibrary(dir, NO_FP);
    await run("g++", [...NO_FP, "-o", bin("thrower"), `${PROGRAMS}thrower.cc`]);
    await buildProgram("inlined.c", bin("inlined"), ["-O2", "-g", "-fomit-frame-pointer"]);
    // Without symbol table and DWARF: .gopclntab alone names Go code.
    await buildGo(GO_TOOLCHAINS[0], "go_chain", bin("go_chain"), { ldflags: "-s -w" });
    const names_ = ["pie_main", "thrower", "inlined", "go_chain"];
    // They outlive the test's windows and are killed at its end.
    const children = new Map(names_.map((n) => [n, startProgram(bin(n), ["120"])]));
    const agent = await startAgent([
      "--profiling-duration=2s",
      "--profiling-cpu-sampling-frequency=97",
      `--local-store-directory=${store}`,
      "--local-store-symbolize",
    ]);
    const query = async (name: string, extra: string): Promise<Response> => {
      const sel = encodeURIComponent(`{pid="${children.get(name)!.pid}"}`);
      return await fetch(`${agent.url}/query?query=${sel}${extra}`);
    };
    /** The next profile of a program (a window without its samples gives a 404: wait on). */
    const nextProfile = async (name: string, extra: string): Promise<Profile> => {
      for (let i = 0;; i++) {
        const res = await query(name, extra);
        if (res.status === 200) return decodeProfile(new Uint8Array(await res.arrayBuffer()));
        const body = await res.text();
        ok(i < 20, `${name}: /query answered ${res.status}: ${body}`);
      }
    };
    /** Symbolized profiles of a program once its unwind tables are loaded. */
    const profiles = async (name: string, n: number, tables = true): Promise<Profile[]> => {
      const out: Profile[] = [];
      const deadline = Date.now() + 60_000;
      while (out.length < n) {
        ok(Date.now() < deadline, `${name}: no symbolized profile without pending tables`);
        const p = await nextProfile(name, "&symbolize=1");
        const pending = stacks(p).some((s) => s.frames.some((f) => f.name === PENDING));
        if (!pending || !tables) out.push(p);
      }
      return out;
    };
    try {
      const [pie, thrower, inlined, goChain] = await Promise.all([
        profiles("pie_main", 3),
        profiles("thrower", 2),
        profiles("inlined", 2),
        // Go has no .eh_frame: it is walked with frame pointers, its tables never come.
        profiles("go_chain", 2, false),
      ]);

      await t.step("a PIE without frame pointers calling a library: the whole chain named", () => {
        let total = 0;
        let whole = 0;
        const bad = new Map<string, number>();
        for (const p of pie) {
          for (const s of stacks(p)) {
            const f = names(s.frames);
            total += s.count;
            const i = f.indexOf("call_library");
            const above = f.slice(0, i).join(",");
            const good = i >= 0 &&
              ["lib_inner,lib_outer", "lib_outer", "lib_tiny", "[plt]", ""].includes(above) &&
              f[i + 1] === "main" && f[i + 2] === "__libc_start_call_main" &&
              f[f.length - 1] === "_start";
            if (good) whole += s.count;
            else bad.set(f.join(" <- "), (bad.get(f.join(" <- ")) ?? 0) + s.count);
          }
        }
        const worst = [...bad].sort((a, b) => b[1] - a[1]).slice(0, 3);
        ok(total >= 50, `only ${total} samples`);
        ok(
          whole / total >= 0.9,
          `${(100 * whole / total).toFixed(1)} % of ${total} samples whole; worst: ${
            JSON.stringify(worst)
          }`,
        );
      });

      await t.step("C++ frames are demangled, with the mangled name kept", () => {
        const all = thrower.flatMap((p) => stacks(p).flatMap((s) => s.frames));
        // GCC moves the throw into a cold part, `_Z9throw_onei.cold`, which c++filt names
        // "throw_one(int) [clone .cold]".
        const throwOne = all.find((f) => f.name.startsWith("throw_one(int)"));
        ok(throwOne, `throw_one(int) among ${[...new Set(all.map((f) => f.name))].join(", ")}`);
        ok(/^throw_one\(int\)( \[clone \.cold\])?$/.test(throwOne.name), throwOne.name);
        ok(throwOne.systemName.startsWith("_Z9throw_onei"), throwOne.systemName);
        ok(all.some((f) => f.name === "catch_loop()"));
      });

      await t.step("an inlined function is its own line of the location, leaf first", () => {
        const locs = inlined.flatMap((p) =>
          p.location.map((l) =>
            l.line.map((ln) => {
              const f = p.function[Number(ln.functionId) - 1];
              return {
                name: p.stringTable[Number(f.name)],
                file: p.stringTable[Number(f.filename)],
                line: Number(ln.line),
              };
            })
          )
        );
        const both = locs.find((l) =>
          l[0]?.name === "inlined_square" && l[1]?.name === "outer_work"
        );
        ok(both, `no location with inlined_square inlined in outer_work: ${JSON.stringify(locs)}`);
        ok(both[0].file.endsWith("inlined.c") && both[0].line > 0, JSON.stringify(both));
        ok(both[1].line > 0);
        const m = inlined[0].mapping.find((x) =>
          inlined[0].stringTable[Number(x.filename)] === bin("inlined")
        )!;
        ok(m.hasFunctions && m.hasLineNumbers && m.hasInlineFrames);
      });

      await t.step("Go frames are named from .gopclntab in a binary built with -s -w", () => {
        let total = 0;
        let chain = 0;
        let frames = 0;
        let unnamed = 0;
        for (const p of goChain) {
          const exe = p.mapping.find((m) => p.stringTable[Number(m.filename)] === bin("go_chain"))!;
          for (const l of p.location.filter((l) => l.mappingId === exe.id)) {
            frames++;
            const f = p.function[Number(l.line[0].functionId) - 1];
            if (/\+0x[0-9a-f]+$/.test(p.stringTable[Number(f.name)])) unnamed++;
          }
          for (const s of stacks(p)) {
            total += s.count;
            const f = names(s.frames).join(",");
            // The frame-pointer walk skips the caller of a frameless leaf (middle).
            if (/main\.leaf,(main\.middle,)?main\.outer,main\.worker/.test(f)) chain += s.count;
          }
        }
        ok(frames > 0 && unnamed === 0, `${unnamed} of ${frames} go_chain locations unnamed`);
        ok(chain / total >= 0.5, `only ${chain} of ${total} samples under main.worker's chain`);
      });

      await t.step("without symbolize=1, /query keeps user frames as addresses", async () => {
        const p = await nextProfile("pie_main", "");
        const exe = p.mapping.find((m) => p.stringTable[Number(m.filename)] === bin("pie_main"))!;
        ok(!exe.hasFunctions);
        const userLocs = p.location.filter((l) => l.mappingId === exe.id);
        ok(userLocs.length > 0);
        deepEqual(userLocs.filter((l) => l.line.length > 0), []);
      });

      await t.step("debug=1 with symbolize=1 shows the names", async () => {
        let text = "";
        for (let i = 0; i < 20 && !text.includes("Next profile"); i++) {
          text = await (await query("pie_main", "&symbolize=1&debug=1")).text();
        }
        ok(text.includes("call_library") && text.includes("__libc_start_call_main"), text);
      });

      await t.step(
        "the local store's symbolized files name every frame in pprof tools",
        async () => {
          const pid = children.get("pie_main")!.pid;
          const files = [...Deno.readDirSync(store)].map((e) => e.name).filter((n) =>
            n.startsWith(`${pid}_`)
          ).sort();
          ok(files.length > 0, "no stored profile");
          const latest = `${store}/${files[files.length - 1]}`;
          const p = decodeProfile(await Deno.readFile(latest));
          ok(stacks(p).some((s) => names(s.frames).includes("call_library")));
          // Read by tools that are given no binaries: copy the file away from them.
          const tools: Array<[string, string[]]> = [["go", ["tool", "pprof", "-traces"]]];
          const pprof = Deno.env.get("PPROF_BIN");
          if (pprof) tools.push([pprof, ["-traces"]]);
          // deno-lint-ignore no-console -- says why a step is left out
          else console.error("e2e_symbolize_test: PPROF_BIN unset, upstream pprof left out");
          for (const [cmd, args] of tools) {
            const out = await run(cmd, [...args, latest]);
            ok(out.includes("call_library") && out.includes("__libc_start_call_main"), out);
            ok(!/\[pie_main\]|\[libc\.so\.6\]/.test(out), `${cmd} shows unnamed frames: ${out}`);
          }
        },
      );
    } finally {
      await agent.stop("SIGTERM");
      for (const c of children.values()) {
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
