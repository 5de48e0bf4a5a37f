// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { buildProfile, type Profile } from "../pprof/mod.ts";
import { type ExecutableMapping, ProcessReader } from "../process/mod.ts";
import { NativeSymbolizer } from "./native.ts";
import { elfAddress, symbolizeProfile } from "./profile.ts";

// A C++ program with a function inlined into another, built at test time with DWARF, run long
// enough to be read; its addresses are symbolized through its own mappings.
const SOURCE = `
#include <unistd.h>
namespace app { __attribute__((noinline)) int leaf(int x) { volatile int s = 0; for (int i = 0; i < x; i++) s += i; return s; } }
static inline __attribute__((always_inline)) int inlined_part(int x) { volatile int y = x; for (int i = 0; i < 50; i++) y += i * x; return y; }
__attribute__((noinline)) int caller(int x) { return inlined_part(x) + app::leaf(x); }
int main(int argc, char **) { for (int i = 0; i < 600; i++) { caller(argc); usleep(100000); } return 0; }
`;

async function sh(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** Symbol name → [vaddr, size] from nm. */
async function nm(path: string): Promise<Map<string, [number, number]>> {
  const out = new Map<string, [number, number]>();
  for (const line of (await sh("nm", ["-S", "--defined-only", path])).split("\n")) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) [tT] (\S+)$/.exec(line);
    if (m) out.set(m[3], [parseInt(m[1], 16), parseInt(m[2], 16)]);
  }
  return out;
}

function runtime(m: ExecutableMapping, vaddr: number): number {
  const seg = m.loadSegment!;
  return vaddr - seg.vaddr + seg.offset - m.offset + m.start;
}

/** Function names (leaf first, inline frames included) and lines of each location. */
function named(p: Profile): Array<Array<{ name: string; system: string; line: number }>> {
  const s = (i: bigint) => p.stringTable[Number(i)];
  return p.location.map((l) =>
    l.line.map((ln) => {
      const f = p.function[Number(ln.functionId) - 1];
      return { name: s(f.name), system: s(f.systemName), line: Number(ln.line) };
    })
  );
}

Deno.test({
  name: "symbolizeProfile() names frames with lines and inline frames, and module+0xADDR without",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "symbolize-test-" });
    const native = new NativeSymbolizer({ debugDirectories: ["/usr/lib/debug"] });
    const children: Deno.ChildProcess[] = [];
    try {
      await Deno.writeTextFile(`${dir}/prog.cc`, SOURCE);
      await sh("g++", ["-g", "-O2", "-o", `${dir}/prog`, `${dir}/prog.cc`]);
      // Another build (another build ID), without symbols.
      await sh("g++", ["-O1", "-s", "-o", `${dir}/prog.stripped`, `${dir}/prog.cc`]);
      const syms = await nm(`${dir}/prog`);
      const start = (path: string) => {
        const c = new Deno.Command(path, { stdout: "null", stderr: "null" }).spawn();
        children.push(c);
        return c;
      };
      const full = start(`${dir}/prog`);
      const stripped = start(`${dir}/prog.stripped`);
      await new Promise((r) => setTimeout(r, 300));
      const reader = new ProcessReader();

      const info = reader.read(full.pid)!;
      const exe = info.mappings.find((m) => m.path === `${dir}/prog`)!;
      ok(exe?.loadSegment, "the executable mapping and its load segment");
      const [leaf] = syms.get("_ZN3app4leafEi")!;
      const [caller, callerSize] = syms.get("_Z6callerii") ?? syms.get("_Z6calleri")!;
      // Every address of caller(), to find the inlined loop among them.
      const callerAddrs = Array.from({ length: callerSize }, (_, i) => runtime(exe, caller + i));
      const profile = buildProfile({
        startNanos: 0n,
        durationNanos: 1n,
        frequencyHz: 19,
        mappings: info.mappings,
        samples: [
          { tid: 1, threadName: "t", count: 1, user: [runtime(exe, leaf + 2)], kernel: [] },
          ...callerAddrs.map((a) => ({ tid: 1, threadName: "t", count: 1, user: [a], kernel: [] })),
        ],
      }, {});
      const before = structuredClone(profile.location.map((l) => l.line.length));
      const { profile: out, report } = await symbolizeProfile(profile, {
        pid: full.pid,
        mappings: info.mappings,
      }, native);
      deepEqual(profile.location.map((l) => l.line.length), before, "the input is not changed");
      const locs = named(out);
      equal(locs[0].length, 1);
      equal(locs[0][0].name, "app::leaf(int)");
      equal(locs[0][0].system, "_ZN3app4leafEi");
      ok(locs[0][0].line > 0);
      const inlined = locs.find((l) => l.length === 2);
      ok(
        inlined,
        `an address of caller() with an inline frame: ${JSON.stringify(locs.slice(0, 4))}`,
      );
      equal(inlined[0].name, "inlined_part");
      equal(inlined[1].name, "caller(int)");
      equal(report.named, out.location.length);
      const m = out.mapping[info.mappings.indexOf(exe)];
      ok(m.hasFunctions && m.hasLineNumbers && m.hasInlineFrames);
      ok(!profile.mapping[info.mappings.indexOf(exe)].hasFunctions);

      // Cached: the same addresses again are answered without the worker.
      const resolvedBefore = native.stats.resolvedAddresses;
      await symbolizeProfile(profile, { pid: full.pid, mappings: info.mappings }, native);
      equal(native.stats.resolvedAddresses, resolvedBefore);
      ok(native.stats.cachedAddresses >= callerAddrs.length);

      // The stripped copy has no symbols of its own: module+0xADDR.
      const sinfo = reader.read(stripped.pid)!;
      const sexe = sinfo.mappings.find((x) => x.path === `${dir}/prog.stripped`)!;
      const sp = buildProfile({
        startNanos: 0n,
        durationNanos: 1n,
        frequencyHz: 19,
        mappings: sinfo.mappings,
        samples: [{ tid: 1, threadName: "t", count: 1, user: [sexe.start + 0x20], kernel: [] }],
      }, {});
      const sout = await symbolizeProfile(
        sp,
        { pid: stripped.pid, mappings: sinfo.mappings },
        native,
      );
      const vaddr = elfAddress(sexe, sexe.start + 0x20);
      equal(vaddr, sexe.loadSegment!.vaddr + sexe.offset - sexe.loadSegment!.offset + 0x20);
      equal(named(sout.profile)[0][0].name, `prog.stripped+0x${vaddr.toString(16)}`);
      equal(sout.report.unnamed.no_symbols, 1);

      // A process that is gone, and a file nobody maps any more: module+0xADDR, no error.
      stripped.kill("SIGKILL");
      await stripped.status;
      const goneMapping: ExecutableMapping = {
        ...sexe,
        buildId: "00ff",
        file: { ...sexe.file!, key: "0:0:0:0", buildId: "00ff" },
      };
      const gone = buildProfile({
        startNanos: 0n,
        durationNanos: 1n,
        frequencyHz: 19,
        mappings: [goneMapping],
        samples: [{ tid: 1, threadName: "t", count: 1, user: [sexe.start + 16], kernel: [] }],
      }, {});
      const gout = await symbolizeProfile(gone, {
        pid: stripped.pid,
        mappings: [goneMapping],
      }, native);
      match(named(gout.profile)[0][0].name, /^prog\.stripped\+0x[0-9a-f]+$/);
      equal(gout.report.unnamed.unreachable, 1);
    } finally {
      native.close();
      for (const c of children) {
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
