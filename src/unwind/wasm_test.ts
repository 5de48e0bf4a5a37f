// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Tests of the wasm-unwind module through its loader: golden comparisons of every unwind row
// with `readelf --debug-dump=frames-interp` (binutils) for libc, libstdc++ and programs built
// here with gcc; ELF facts against readelf; a short deterministic fuzz run; packing.

import assert from "node:assert/strict";

import { runFuzz } from "../../wasm-unwind/fuzz.ts";
import { DEFAULT_WASM_UNWIND_URL, type ElfFacts, WasmUnwind, WasmUnwindError } from "./_wasm.ts";
import {
  CfaKind,
  decodeUnwindTable,
  findPackedRow,
  findRow,
  freePackedTable,
  lookupRule,
  packedRowCount,
  packSerializedTable,
  packUnwindTable,
  RbpKind,
  RowSpanError,
  unpackRow,
  UnsupportedReason,
  type UnwindRule,
  type UnwindTable,
} from "./table.ts";

const LIBC = "/lib/x86_64-linux-gnu/libc.so.6";
const LIBSTDCXX = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";

function exists(path: string | URL): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function onPath(tool: string): boolean {
  return ["/usr/bin", "/bin", "/usr/local/bin"].some((dir) => exists(`${dir}/${tool}`));
}

const WASM_PRESENT = exists(DEFAULT_WASM_UNWIND_URL);
const READELF = onPath("readelf");
const GCC = onPath("gcc");

if (!WASM_PRESENT) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.warn(
    `wasm_test.ts: skipped: ${DEFAULT_WASM_UNWIND_URL.pathname} is absent (run 'bash wasm-unwind/build.sh')`,
  );
} else if (!READELF || !GCC) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.warn("wasm_test.ts: golden tests skipped: readelf (binutils) or gcc is not installed");
}

let wasmPromise: Promise<WasmUnwind> | undefined;
function wasm(): Promise<WasmUnwind> {
  wasmPromise ??= WasmUnwind.load();
  return wasmPromise;
}

/** Runs a tool; `tolerate` accepts a failing exit status with output (readelf exits 1 on
 * libc.so.6 after printing every frame, for no reason it states). */
async function run(cmd: string, args: string[], tolerate = false): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success && !(tolerate && out.stdout.length > 0)) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

// ---------------------------------------------------------------------------------------------
// Test programs, compiled once per run.

const PROGRAM = `
#include <signal.h>
#include <stdio.h>
#include <string.h>

volatile int sink;

__attribute__((noinline)) int leaf(int x) { return x * 3 + sink; }

__attribute__((noinline)) int recurse(int n) {
  if (n <= 0) return leaf(n);
  int r = recurse(n - 1) + 1;
  sink += r;
  return r;
}

/* A frame larger than 32 KiB: CFA offsets beyond int16 (the reference truncates them). */
__attribute__((noinline)) int big_frame(int n) {
  volatile char buf[70000];
  memset((char *)buf, n, sizeof buf);
  return buf[n % 70000] + leaf(n);
}

/* A variable-length array forces rbp as the frame base even with -fomit-frame-pointer. */
__attribute__((noinline)) int vla(int n) {
  volatile char a[n + 16];
  for (int i = 0; i < n + 16; i++) a[i] = (char)i;
  return a[n] + leaf(n);
}

static void handler(int sig) { sink += sig; }

int main(int argc, char **argv) {
  (void)argv;
  signal(SIGUSR1, handler);
  raise(SIGUSR1);
  printf("%d\\n", recurse(argc + 10) + big_frame(argc + 100) + vla(argc + 5));
  return 0;
}
`;

interface Programs {
  dir: string;
  /** -O2 -fomit-frame-pointer: .eh_frame. */
  eh: string;
  /** -O2 -g without unwind tables: .debug_frame only. */
  debug: string;
  /** -O2 -static: glibc's __restore_rt and thousands of FDEs, no PT_INTERP. */
  static?: string;
}

let programsPromise: Promise<Programs> | undefined;
function programs(): Promise<Programs> {
  programsPromise ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "wasm_unwind_test_" });
    const src = `${dir}/prog.c`;
    await Deno.writeTextFile(src, PROGRAM);
    const p: Programs = { dir, eh: `${dir}/prog_eh`, debug: `${dir}/prog_debug` };
    await run("gcc", ["-O2", "-fomit-frame-pointer", "-o", p.eh, src]);
    await run("gcc", [
      "-O2",
      "-fomit-frame-pointer",
      "-g",
      "-fno-asynchronous-unwind-tables",
      "-fno-unwind-tables",
      "-o",
      p.debug,
      src,
    ]);
    try {
      await run("gcc", ["-O2", "-fomit-frame-pointer", "-static", "-o", `${dir}/prog_static`, src]);
      p.static = `${dir}/prog_static`;
    } catch {
      // libc.a is not installed: the static case is skipped.
    }
    return p;
  })();
  return programsPromise;
}

// ---------------------------------------------------------------------------------------------
// readelf --debug-dump=frames-interp

interface ReadelfRow {
  loc: bigint;
  /** Column name → value, e.g. CFA → "rsp+16", rbp → "c-16", ra → "c-8". */
  cols: Map<string, string>;
}

interface ReadelfEntry {
  section: string;
  offset: string;
  kind: "CIE" | "FDE";
  augmentation: string;
  cie: string;
  start: bigint;
  end: bigint;
  rows: ReadelfRow[];
}

function parseFramesInterp(text: string): ReadelfEntry[] {
  const entries: ReadelfEntry[] = [];
  let section = "";
  let current: ReadelfEntry | undefined;
  let columns: string[] = [];
  for (const line of text.split("\n")) {
    let m = line.match(/^Contents of the (\S+) section/);
    if (m) {
      section = m[1];
      current = undefined;
      continue;
    }
    m = line.match(/^([0-9a-f]+) [0-9a-f]+ [0-9a-f]+ CIE "([^"]*)"/);
    if (m) {
      current = {
        section,
        offset: m[1],
        kind: "CIE",
        augmentation: m[2],
        cie: m[1],
        start: 0n,
        end: 0n,
        rows: [],
      };
      entries.push(current);
      columns = [];
      continue;
    }
    m = line.match(
      /^([0-9a-f]+) [0-9a-f]+ [0-9a-f]+ FDE cie=([0-9a-f]+) pc=([0-9a-f]+)\.\.([0-9a-f]+)/,
    );
    if (m) {
      current = {
        section,
        offset: m[1],
        kind: "FDE",
        augmentation: "",
        cie: m[2],
        start: BigInt(`0x${m[3]}`),
        end: BigInt(`0x${m[4]}`),
        rows: [],
      };
      entries.push(current);
      columns = [];
      continue;
    }
    if (!current) continue;
    m = line.match(/^\s+LOC\s+(.*)$/);
    if (m) {
      columns = m[1].trim().split(/\s+/);
      continue;
    }
    m = line.match(/^([0-9a-f]{8,16}) (.*)$/);
    if (m && columns.length > 0) {
      // A register rule prints as "r10 (r10)": glue the parenthesised name to its number.
      const values: string[] = [];
      for (const token of m[2].trim().split(/\s+/)) {
        if (token.startsWith("(") && values.length > 0) values[values.length - 1] += ` ${token}`;
        else values.push(token);
      }
      const cols = new Map<string, string>();
      columns.forEach((c, i) => cols.set(c, values[i] ?? ""));
      current.rows.push({ loc: BigInt(`0x${m[1]}`), cols });
    }
  }
  return entries;
}

/** What our rule must be for one readelf row; returns a description of a mismatch or null. */
function checkRule(row: ReadelfRow, signal: boolean, rule: UnwindRule | undefined): string | null {
  if (!rule) return "no rule";
  const cfa = row.cols.get("CFA") ?? "";
  const rbp = row.cols.get("rbp") ?? "u";
  const ra = row.cols.get("ra") ?? "u";
  const show = () =>
    `readelf CFA=${cfa} rbp=${rbp} ra=${ra}${signal ? " (signal)" : ""}, ours ${
      JSON.stringify(rule)
    }`;
  const unsupported = (reason: number) =>
    rule.cfaKind === CfaKind.ExprUnsupported && rule.cfaOffset === reason ? null : show();
  const rbpOk = (): boolean => {
    if (rbp === "u" || rbp === "s" || rbp === "rbp") return rule.rbpKind === RbpKind.Unchanged;
    const c = rbp.match(/^c([+-]\d+)$/);
    if (c) return rule.rbpKind === RbpKind.CfaOffset && rule.rbpOffset === Number(c[1]);
    return rule.rbpKind === RbpKind.Unsupported;
  };
  if (signal) {
    if (cfa !== "exp") return unsupported(UnsupportedReason.SignalFrame);
    if (rule.cfaKind !== CfaKind.SignalFrame) return unsupported(UnsupportedReason.SignalFrame);
    const rbpSignalOk = rbp === "exp"
      ? rule.rbpKind === RbpKind.RspOffset || rule.rbpKind === RbpKind.Unsupported
      : rule.rbpKind === RbpKind.Unchanged;
    return rbpSignalOk && ra === "exp" ? null : show();
  }
  if (ra === "u") return rule.cfaKind === CfaKind.RaUndefined ? null : show();
  if (ra !== "c-8") return unsupported(UnsupportedReason.ReturnAddress);
  if (cfa === "exp") {
    if (rule.cfaKind === CfaKind.Plt1 || rule.cfaKind === CfaKind.Plt2) {
      return rule.cfaOffset === 8 && rbpOk() ? null : show();
    }
    return unsupported(UnsupportedReason.CfaExpression);
  }
  const m = cfa.match(/^(\w+)([+-]\d+)$/);
  if (!m) return show();
  const offset = Number(m[2]);
  if (offset < -(2 ** 31) || offset >= 2 ** 31) return unsupported(UnsupportedReason.OffsetRange);
  if (m[1] !== "rsp" && m[1] !== "rbp") return unsupported(UnsupportedReason.CfaRegister);
  const kind = m[1] === "rsp" ? CfaKind.RspOffset : CfaKind.RbpOffset;
  return rule.cfaKind === kind && rule.cfaOffset === offset && rule.raOffset === -8 && rbpOk()
    ? null
    : show();
}

interface GoldenReport {
  fdes: number;
  rowsChecked: number;
  gapsChecked: number;
  expressions: Record<string, number>;
  skipped: Record<string, number>;
  mismatches: string[];
}

/** Checks every row of every FDE that readelf prints against the table. */
async function golden(path: string, table: UnwindTable, facts: ElfFacts): Promise<GoldenReport> {
  const entries = parseFramesInterp(
    await run("readelf", ["--debug-dump=frames-interp", "--wide", path], true),
  );
  const cies = new Map<string, ReadelfEntry>();
  for (const e of entries) if (e.kind === "CIE") cies.set(`${e.section}:${e.offset}`, e);
  const inCode = (pc: bigint) =>
    facts.execSegments.some((s) => pc >= BigInt(s.vaddr) && pc < BigInt(s.vaddr + s.memsz));
  const report: GoldenReport = {
    fdes: 0,
    rowsChecked: 0,
    gapsChecked: 0,
    expressions: {},
    skipped: {},
    mismatches: [],
  };
  const skip = (why: string) => report.skipped[why] = (report.skipped[why] ?? 0) + 1;

  const fdes = entries.filter((e) => e.kind === "FDE");
  // The table prefers .eh_frame: a .debug_frame FDE overlapping an .eh_frame one is not in it.
  const eh = fdes.filter((f) => f.section === ".eh_frame");
  const overlapsEh = (f: ReadelfEntry) => eh.some((e) => e.start < f.end && f.start < e.end);
  const taken: ReadelfEntry[] = [];
  for (const f of fdes) {
    if (f.start >= f.end) skip("empty FDE");
    else if (!inCode(f.start)) skip("FDE outside executable segments");
    else if (f.section === ".debug_frame" && eh.length > 0 && overlapsEh(f)) {
      skip(".debug_frame FDE also in .eh_frame");
    } else taken.push(f);
  }
  taken.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  let prevEnd = -1n;
  const kept: ReadelfEntry[] = [];
  for (const f of taken) {
    if (f.start < prevEnd) {
      skip("FDE overlapping an earlier one");
      continue;
    }
    kept.push(f);
    prevEnd = f.end;
  }

  kept.forEach((f, i) => {
    report.fdes++;
    const cie = cies.get(`${f.section}:${f.cie}`);
    const signal = cie?.augmentation.includes("S") ?? false;
    // readelf prints no rows for an FDE whose instructions are all nops: the CIE's state holds.
    const source = f.rows.length > 0 ? f.rows : (cie?.rows ?? []).slice(-1).map((r) => ({
      loc: f.start,
      cols: r.cols,
    }));
    const rows = source.filter((r, j) =>
      r.loc >= f.start && r.loc < f.end && (j + 1 >= source.length || source[j + 1].loc !== r.loc)
    );
    for (const row of rows) {
      const rule = lookupRule(table, row.loc);
      const cfa = row.cols.get("CFA");
      if (cfa === "exp" && rule) {
        const name = Object.entries(CfaKind).find(([, v]) => v === rule.cfaKind)?.[0] ?? "?";
        report.expressions[name] = (report.expressions[name] ?? 0) + 1;
      }
      const bad = checkRule(row, signal, rule);
      if (bad) {
        report.mismatches.push(`${f.section} FDE ${f.offset} at 0x${row.loc.toString(16)}: ${bad}`);
      }
      report.rowsChecked++;
    }
    const next = kept[i + 1];
    if (!next || next.start > f.end) {
      const rule = lookupRule(table, f.end);
      if (rule?.cfaKind !== CfaKind.EndOfFunction) {
        report.mismatches.push(`no end-of-function row at 0x${f.end.toString(16)}`);
      }
      report.gapsChecked++;
    }
  });
  return report;
}

async function goldenTest(path: string, minRows: number): Promise<GoldenReport> {
  const w = await wasm();
  const file = await Deno.readFile(path);
  const facts = w.elfFacts(file);
  const table = w.unwindTable(file);
  assert.equal(table.stats.fdesSkipped, 0, "no FDE is corrupt");
  for (let i = 1; i < table.pcs.length; i++) assert.ok(table.pcs[i - 1] < table.pcs[i]);
  const report = await golden(path, table, facts);
  assert.deepEqual(report.mismatches.slice(0, 20), [], `${report.mismatches.length} mismatches`);
  assert.ok(report.rowsChecked >= minRows, `only ${report.rowsChecked} rows checked`);
  assert.equal(report.fdes, table.stats.fdesUsed, "every FDE of the table was checked");
  return report;
}

const goldenIgnore = !WASM_PRESENT || !READELF;

Deno.test({
  name: "unwindTable() agrees with readelf frames-interp at every row of libc",
  ignore: goldenIgnore || !exists(LIBC),
  async fn() {
    const report = await goldenTest(LIBC, 20_000);
    assert.ok((report.expressions.SignalFrame ?? 0) >= 1, "__restore_rt is a signal frame");
    assert.ok((report.expressions.Plt1 ?? 0) + (report.expressions.Plt2 ?? 0) >= 1, "PLT rows");
  },
});

Deno.test({
  name: "unwindTable() agrees with readelf frames-interp at every row of libstdc++",
  ignore: goldenIgnore || !exists(LIBSTDCXX),
  async fn() {
    await goldenTest(LIBSTDCXX, 20_000);
  },
});

Deno.test({
  name: "unwindTable() agrees with readelf frames-interp for programs built with gcc",
  ignore: goldenIgnore || !GCC,
  async fn(t) {
    const p = await programs();
    await t.step("-O2 -fomit-frame-pointer (.eh_frame)", async () => {
      const report = await goldenTest(p.eh, 20);
      const table = (await wasm()).unwindTable(await Deno.readFile(p.eh));
      // big_frame's CFA offset is beyond int16; vla's CFA is rbp-based.
      assert.ok(table.rules.some((r) => r.cfaKind === CfaKind.RspOffset && r.cfaOffset > 70_000));
      assert.ok(table.rules.some((r) => r.cfaKind === CfaKind.RbpOffset));
      assert.ok(table.rules.some((r) => r.cfaKind === CfaKind.RaUndefined), "_start");
      assert.ok((report.expressions.Plt1 ?? 0) + (report.expressions.Plt2 ?? 0) >= 1);
    });
    await t.step("-g without unwind tables (.debug_frame only)", async () => {
      const file = await Deno.readFile(p.debug);
      const table = (await wasm()).unwindTable(file);
      assert.ok(table.stats.debugFrameFdesAdded > 0);
      await goldenTest(p.debug, 20);
    });
    await t.step({
      name: "-static (glibc's __restore_rt inside the executable)",
      ignore: !p.static,
      fn: async () => {
        const report = await goldenTest(p.static!, 5_000);
        assert.ok((report.expressions.SignalFrame ?? 0) >= 1);
      },
    });
  },
});

// ---------------------------------------------------------------------------------------------
// ELF facts

interface ReadelfFacts {
  type: string;
  entry: number;
  buildId: string | null;
  interp: string | null;
  needed: string[];
  compiler: string | null;
  sections: Set<string>;
  execSegments: Array<
    { offset: number; vaddr: number; filesz: number; memsz: number; flags: number }
  >;
}

async function readelfFacts(path: string): Promise<ReadelfFacts> {
  const header = await run("readelf", ["-hW", path]);
  const notes = await run("readelf", ["-nW", path]);
  const program = await run("readelf", ["-lW", path]);
  const dynamic = await run("readelf", ["-dW", path]);
  const sections = await run("readelf", ["-SW", path]);
  const comment = await new Deno.Command("readelf", {
    args: ["-p", ".comment", path],
    stdout: "piped",
    stderr: "null",
  }).output();
  const commentText = new TextDecoder().decode(comment.stdout);
  const flagBits = (s: string) =>
    (s.includes("R") ? 4 : 0) | (s.includes("W") ? 2 : 0) | (s.includes("E") ? 1 : 0);
  const execSegments = [
    ...program.matchAll(
      /^\s+LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+([RWE ]+?)\s+0x[0-9a-f]+$/gm,
    ),
  ].map((m) => ({
    offset: Number(m[1]),
    vaddr: Number(m[2]),
    filesz: Number(m[3]),
    memsz: Number(m[4]),
    flags: flagBits(m[5]),
  })).filter((s) => s.flags & 1);
  return {
    type: header.match(/Type:\s+(\w+)/)![1],
    entry: Number(header.match(/Entry point address:\s+(0x[0-9a-f]+)/)![1]),
    buildId: notes.match(/Build ID: ([0-9a-f]+)/)?.[1] ?? null,
    interp: program.match(/Requesting program interpreter: ([^\]]+)\]/)?.[1] ?? null,
    needed: [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]),
    compiler: commentText.match(/^\s+\[\s*0\]\s+(.+)$/m)?.[1] ?? null,
    sections: new Set([...sections.matchAll(/^\s+\[\s*\d+\]\s+(\S+)/gm)].map((m) => m[1])),
    execSegments,
  };
}

async function checkFacts(path: string): Promise<ElfFacts> {
  const facts = (await wasm()).elfFacts(await Deno.readFile(path));
  const want = await readelfFacts(path);
  assert.equal(facts.class, 64);
  assert.equal(facts.machine, 62);
  assert.equal(facts.type, want.type);
  assert.equal(facts.entry, want.entry);
  assert.equal(facts.buildId, want.buildId);
  assert.equal(facts.buildIdKind, want.buildId ? "gnu" : null);
  assert.equal(facts.interp, want.interp);
  assert.deepEqual(facts.needed, want.needed);
  assert.equal(facts.static, want.interp === null && want.needed.length === 0);
  assert.equal(facts.compiler, want.compiler);
  assert.equal(facts.hasSymtab, want.sections.has(".symtab"));
  assert.equal(facts.hasDebugInfo, want.sections.has(".debug_info"));
  assert.equal(facts.stripped, !want.sections.has(".symtab") && !want.sections.has(".debug_info"));
  assert.equal(facts.hasEhFrame, want.sections.has(".eh_frame"));
  assert.deepEqual(facts.execSegments, want.execSegments);
  assert.deepEqual(facts.warnings, []);
  return facts;
}

Deno.test({
  name: "elfFacts() agrees with readelf -h -n -l -d -S -p .comment for libc",
  ignore: !WASM_PRESENT || !READELF || !exists(LIBC),
  async fn() {
    const facts = await checkFacts(LIBC);
    assert.equal(facts.type, "DYN");
    assert.equal(facts.stripped, true);
    assert.match(facts.debuglink ?? "", /\.debug$/);
  },
});

Deno.test({
  name: "elfFacts() agrees with readelf for programs built with gcc",
  ignore: !WASM_PRESENT || !READELF || !GCC,
  async fn() {
    const p = await programs();
    const eh = await checkFacts(p.eh);
    assert.equal(eh.static, false);
    assert.equal(eh.stripped, false);
    assert.match(eh.compiler ?? "", /^GCC: /);
    const debug = await checkFacts(p.debug);
    assert.equal(debug.hasDebugFrame, true);
    assert.equal(debug.hasDebugInfo, true);
    if (p.static) {
      const facts = await checkFacts(p.static);
      assert.equal(facts.static, true);
      assert.equal(facts.type, "EXEC");
    }
  },
});

// ---------------------------------------------------------------------------------------------
// Errors, packing, fuzzing

Deno.test({
  name: "WasmUnwind reports module errors with code and name",
  ignore: !WASM_PRESENT,
  async fn() {
    const w = await wasm();
    const notElf = new TextEncoder().encode(
      "this is not an ELF file, it is a sentence of 64+ bytes",
    );
    assert.throws(() => w.elfFacts(notElf), (e) => {
      assert.ok(e instanceof WasmUnwindError);
      assert.equal(e.code, 2);
      assert.equal(e.codeName, "invalid_elf");
      assert.equal(e.message, "Cannot read ELF facts: invalid ELF file: cannot read ELF magic");
      return true;
    });
    assert.throws(() => w.unwindTable(new Uint8Array()), { name: "WasmUnwindError", code: 2 });
    const deno = Deno.execPath();
    const { facts, table } = w.analyze(await Deno.readFile(deno));
    assert.equal(facts.machine, 62);
    // Deno ships without .eh_frame (built with frame pointers and panic=abort).
    if (!facts.hasEhFrame && !facts.hasDebugFrame) {
      assert.ok(table instanceof WasmUnwindError);
      assert.equal(table.codeName, "no_unwind_info");
    }
  },
});

Deno.test({
  name: "packUnwindTable() packs 8-byte rows relative to the first PC",
  ignore: !WASM_PRESENT || !exists(LIBC),
  async fn() {
    const table = (await wasm()).unwindTable(await Deno.readFile(LIBC));
    const packed = packUnwindTable(table);
    assert.equal(packed.rows.length, 8 * table.pcs.length);
    assert.equal(packed.rules.length, 12 * table.rules.length);
    assert.equal(packed.basePc, table.pcs[0]);
    for (const i of [0, 1, table.pcs.length >> 1, table.pcs.length - 1]) {
      assert.deepEqual(unpackRow(packed, i), { pc: table.pcs[i], ruleIndex: table.ruleIndices[i] });
      assert.equal(packed.rows[i * 8 + 6] | packed.rows[i * 8 + 7], 0, "reserved bytes are zero");
    }
    const chunk = packUnwindTable(table, 100, 200);
    assert.equal(chunk.rowCount, 100);
    assert.deepEqual(unpackRow(chunk, 0), {
      pc: table.pcs[100],
      ruleIndex: table.ruleIndices[100],
    });
    assert.throws(() => packUnwindTable(table, 5, 1), RangeError);
    // The serialized table survives a round trip through an unaligned copy.
    const bytes = (await wasm()).unwindTableBytes(await Deno.readFile(LIBC));
    const unaligned = new Uint8Array(bytes.length + 1).subarray(1);
    unaligned.set(bytes);
    assert.deepEqual(decodeUnwindTable(unaligned).pcs, table.pcs);
    assert.throws(() => decodeUnwindTable(bytes.subarray(0, 63)), RangeError);
  },
});

Deno.test({
  name: "packSerializedTable() packs a serialized table into u32 rows (offset, rule) and its rules",
  ignore: !WASM_PRESENT || !exists(LIBC),
  async fn() {
    const w = await wasm();
    const file = await Deno.readFile(LIBC);
    const bytes = w.unwindTableBytes(file);
    const table = decodeUnwindTable(bytes);
    const packed = packSerializedTable(bytes);
    const n = table.pcs.length;
    assert.equal(packedRowCount(packed), n);
    assert.equal(packed.basePc, table.pcs[0]);
    assert.deepEqual(packed.rules, table.rulesBytes.slice());
    assert.deepEqual(packed.stats, table.stats);
    assert.equal(packed.interned, undefined);
    // The same rows packUnwindTable (and so BPF) gets, u32 for u32; nothing shared with `bytes`.
    const reference = packUnwindTable(table);
    assert.deepEqual(new Uint8Array(packed.rows.buffer), reference.rows);
    assert.notEqual(packed.rows.buffer, bytes.buffer);
    assert.equal(packed.rows.buffer.byteLength, n * 8, "exactly the rows, transferable alone");
    // Lookups over the offsets agree with lookups over the decoded PCs, at row edges and between.
    for (const i of [0, 1, 2, n >> 1, n - 2, n - 1]) {
      for (const d of [-1n, 0n, 1n]) {
        const pc = table.pcs[i] + d;
        assert.equal(findPackedRow(packed, pc), findRow(table, pc), `pc ${pc.toString(16)}`);
      }
    }
    assert.equal(findPackedRow(packed, 0n), -1);
    assert.equal(findPackedRow(packed, table.pcs[n - 1] + (1n << 40n)), n - 1);
    // Taken straight out of wasm-unwind's memory (the table workers' way): the same table.
    const sparse = await w.unwindTableSparse(
      (alloc) => {
        const image = alloc(file.length);
        image.set(file);
        return Promise.resolve({ image, whole: true });
      },
      () => 0,
      packSerializedTable,
    );
    assert.deepEqual(sparse, packed);
    // An unaligned copy packs the same.
    const unaligned = new Uint8Array(bytes.length + 1).subarray(1);
    unaligned.set(bytes);
    assert.deepEqual(packSerializedTable(unaligned), packed);
    // Rows 4 GiB past the first cannot be BPF rows: refused, not wrapped around.
    const far = bytes.slice();
    const view = new DataView(far.buffer);
    const hi = view.getUint32(20, true) + (n - 1) * 8 + 4;
    view.setUint32(hi, view.getUint32(hi, true) + 1, true);
    assert.throws(() => packSerializedTable(far), RowSpanError);
    assert.throws(() => packSerializedTable(bytes.subarray(0, 63)), RangeError);
    // Freed at once: the buffer is detached, the table empty.
    const rowsBuffer = packed.rows.buffer;
    freePackedTable(packed);
    assert.equal(rowsBuffer.byteLength, 0);
    assert.equal(packedRowCount(packed), 0);
    freePackedTable(packed);
  },
});

Deno.test({
  name: "the module survives 2000 mutated ELF files without a trap or unbounded memory",
  ignore: !WASM_PRESENT,
  async fn() {
    const seeds = GCC
      ? [await Deno.readFile((await programs()).eh), await Deno.readFile((await programs()).debug)]
      : [await Deno.readFile("/usr/bin/true")];
    // A fresh instance, so the bound applies to the fuzz inputs only.
    const w = await WasmUnwind.load();
    const report = runFuzz(w, seeds, { iterations: 2000, seed: 20260101 });
    assert.equal(report.iterations, 2000);
    assert.ok(report.maxMemoryBytes < 256 * 1024 * 1024);
    assert.ok(report.slowestMs < 2000, `slowest input took ${report.slowestMs} ms`);
    assert.ok(report.ok > 0 && Object.keys(report.errors).length > 0);
  },
});

Deno.test({
  name: "test programs are removed",
  ignore: !GCC || !WASM_PRESENT,
  sanitizeResources: false,
  async fn() {
    if (programsPromise) await Deno.remove((await programsPromise).dir, { recursive: true });
  },
});
