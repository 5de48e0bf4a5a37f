// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// The unwinder against the in-memory BPF maps, with real processes of our own, real files and
// the real table builders (WASM workers): no root needed.

import { ok, strictEqual } from "node:assert/strict";
import { EventType, FakeUnwindMaps, MappingKind, type WalkerMapping } from "../bpf/mod.ts";
import {
  ObjectFilePool,
  parseProcStat,
  ProcessReader,
  type ProcessRecord,
  ProcessRecords,
} from "../process/mod.ts";
import { poisonedCopy } from "../../tests/_lib/poison.ts";
import { BuilderPool } from "./builder_pool.ts";
import { Unwinder } from "./unwinder.ts";

const WASM = new URL("../../wasm-unwind/lib/wasm_unwind.wasm", import.meta.url);
const hasWasm = (() => {
  try {
    return Deno.statSync(WASM).isFile;
  } catch {
    return false;
  }
})();
const SLEEP = "/usr/bin/sleep";

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function spawn(path: string): Deno.ChildProcess {
  return new Deno.Command(path, { args: ["30"], stdout: "null", stderr: "null" }).spawn();
}

async function kill(c: Deno.ChildProcess): Promise<void> {
  try {
    c.kill("SIGKILL");
  } catch {
    // gone
  }
  await c.status;
}

/**
 * Waits until the child has its program and libraries mapped, captures its record (as at an
 * exec event) and, unless `sampled` is false, tells the unwinder BPF sampled it.
 */
async function capture(
  records: ProcessRecords,
  child: Deno.ChildProcess,
  path: string,
  instance: number,
  unwinder?: Unwinder,
  sampled = true,
): Promise<ProcessRecord> {
  await waitFor(() => {
    try {
      const maps = Deno.readTextFileSync(`/proc/${child.pid}/maps`);
      return maps.includes(path) && maps.includes("libc.so");
    } catch {
      return false;
    }
  }, `${path} mapped`);
  const ticks = parseProcStat(Deno.readTextFileSync(`/proc/${child.pid}/stat`))!.startTimeTicks;
  const r = records.capture(child.pid, { instance, startNs: BigInt(ticks) * 10_000_000n });
  ok(r, "captured");
  if (unwinder && sampled) {
    unwinder.event({ ...NEW_PROCESS, pid: child.pid, instance }, r);
  }
  return r;
}

const NEW_PROCESS = { type: EventType.NEW_PROCESS, execGeneration: 0, startNs: 0n, ktimeNs: 0n };

/** The walker mapping BPF has for the mapping of `path` in a process. */
function mappingOf(
  maps: FakeUnwindMaps,
  r: ProcessRecord,
  path: string,
): WalkerMapping | undefined {
  const m = r.execMappings.find((x) => x.path === path);
  return maps.processes.get(r.pid)?.mappings.find((w) => w.start === m?.start);
}

function setUp(
  opts: { maxRows?: number; now?: () => number; builders?: BuilderPool } = {},
) {
  const maps = new FakeUnwindMaps();
  const records = new ProcessRecords({ reader: new ProcessReader() });
  const unwinder = new Unwinder({
    builders: opts.builders ?? new BuilderPool(1, 200),
    files: new ObjectFilePool({ size: 16, policy: "lru" }),
    maxRows: opts.maxRows ?? 1 << 20,
    maxFileBytes: 1 << 30,
    now: opts.now,
  });
  unwinder.attach(maps, records);
  return { maps, records, unwinder };
}

Deno.test({
  name: "Unwinder loads tables for a captured image and stamps its entry with the image",
  ignore: !hasWasm,
  sanitizeResources: false,
  async fn() {
    const { maps, records, unwinder } = setUp();
    const child = spawn(SLEEP);
    try {
      const r = await capture(records, child, SLEEP, 11, unwinder);
      await waitFor(
        () => mappingOf(maps, r, SLEEP)?.kind === MappingKind.DWARF,
        "sleep's table",
      );
      const entry = maps.processes.get(child.pid)!;
      strictEqual(entry.instance, 11);
      const m = mappingOf(maps, r, SLEEP)!;
      ok(maps.tables.has(m.exeId) && m.rows > 0, "the table is in the maps");
      strictEqual(unwinder.trackedProcesses, 1);
      // The image ends (exit): its tables lose their reference and can be freed.
      records.end(11, "exit");
      strictEqual(unwinder.trackedProcesses, 0);
    } finally {
      await kill(child);
      await unwinder.close();
    }
  },
});

Deno.test({
  name:
    "Unwinder builds large files' tables only for images that were sampled, and shares loaded ones at once",
  ignore: !hasWasm,
  sanitizeResources: false,
  async fn() {
    const { maps, records, unwinder } = setUp();
    const a = spawn(SLEEP);
    // dash padded past the size whose tables are built at exec (same code, a larger file).
    const dir = await Deno.makeTempDir();
    const dash = `${dir}/dash`;
    const bytes = await Deno.readFile("/usr/bin/dash");
    const padded = new Uint8Array(bytes.length + (5 << 20));
    padded.set(bytes);
    await Deno.writeFile(dash, padded, { mode: 0o755 });
    const b = new Deno.Command(dash, { args: ["-c", "sleep 30; :"], stdout: "null" }).spawn();
    try {
      const ra = await capture(records, a, SLEEP, 51, unwinder);
      const libc = ra.execMappings.find((m) => m.path.includes("libc.so"))!.path;
      await waitFor(() => mappingOf(maps, ra, libc)?.kind === MappingKind.DWARF, "libc");
      // sleep's own build (it was sampled) must be over too, or it counts as a build in flight,
      // and so must those of its other files (the loader), which the pool may still be running.
      await waitFor(() => mappingOf(maps, ra, SLEEP)?.kind === MappingKind.DWARF, "sleep");
      await waitFor(() => unwinder.buildsInFlight === 0, "sleep's other builds");
      // dash is captured (as at its exec) but not sampled yet: libc's table is shared at once,
      // dash's own is not built.
      const rb = await capture(records, b, dash, 52, unwinder, false);
      await waitFor(() => mappingOf(maps, rb, libc)?.kind === MappingKind.DWARF, "libc for dash");
      strictEqual(mappingOf(maps, rb, dash)!.kind, MappingKind.PENDING);
      strictEqual(
        unwinder.buildsInFlight,
        0,
        "no build of a large file for an image never sampled",
      );
      // Its first sample: now its table is built.
      unwinder.event({ ...NEW_PROCESS, pid: b.pid, instance: 52 }, rb);
      await waitFor(
        () => mappingOf(maps, rb, dash)?.kind === MappingKind.DWARF,
        "dash's table once sampled",
      );
    } finally {
      await kill(a);
      await kill(b);
      await unwinder.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "Unwinder keys tables by file identity: a copy with a zeroed .eh_frame cannot poison the genuine file",
  ignore: !hasWasm,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    const { maps, records, unwinder } = setUp();
    const copy = `${dir}/sleep`;
    await poisonedCopy(SLEEP, copy);
    const bad = spawn(copy);
    let good: Deno.ChildProcess | undefined;
    try {
      // The copy first: its build ends in "no unwind information", for the copy only.
      const rb = await capture(records, bad, copy, 21, unwinder);
      await waitFor(() => {
        const k = mappingOf(maps, rb, copy)?.kind;
        return k !== undefined && k !== MappingKind.PENDING;
      }, "the copy's build to end");
      strictEqual(mappingOf(maps, rb, copy)!.kind, MappingKind.FP);
      // The genuine binary, same build ID, still gets its table.
      good = spawn(SLEEP);
      const rg = await capture(records, good, SLEEP, 22, unwinder);
      strictEqual(
        rg.mappings.find((m) => m.path === SLEEP)!.buildId,
        rb.mappings.find((m) => m.path === copy)!.buildId,
      );
      await waitFor(
        () => mappingOf(maps, rg, SLEEP)?.kind === MappingKind.DWARF,
        "the genuine table",
      );
    } finally {
      await kill(bad);
      if (good) await kill(good);
      await unwinder.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "Unwinder rewrites images whose table is evicted, and rebuilds it once the eviction expires",
  ignore: !hasWasm,
  sanitizeResources: false,
  async fn() {
    let now = 0;
    // Room for libc (28274 rows) and sleep (705), not for dash (2527) as well.
    const { maps, records, unwinder } = setUp({ maxRows: 29_100, now: () => now });
    const a = spawn(SLEEP);
    // dash waits for its sleep (the trailing ":" keeps it from exec'ing sleep).
    const b = new Deno.Command("/usr/bin/dash", { args: ["-c", "sleep 30; :"], stdout: "null" })
      .spawn();
    const settled = (r: ProcessRecord, paths: string[]) =>
      paths.every((p) => {
        const k = mappingOf(maps, r, p)?.kind;
        return k !== undefined && k !== MappingKind.PENDING;
      });
    const noDanglingIds = () => {
      for (const { mappings } of maps.processes.values()) {
        for (const w of mappings) {
          if (w.kind === MappingKind.DWARF) ok(maps.tables.has(w.exeId), "no dangling exe id");
        }
      }
    };
    try {
      const ra = await capture(records, a, SLEEP, 31, unwinder);
      const libc = ra.execMappings.find((m) => m.path.includes("libc.so"))!.path;
      await waitFor(() => mappingOf(maps, ra, libc)?.kind === MappingKind.DWARF, "libc");
      await waitFor(() => mappingOf(maps, ra, SLEEP)?.kind === MappingKind.DWARF, "sleep");
      const rb = await capture(records, b, "/usr/bin/dash", 32, unwinder);
      await waitFor(() => mappingOf(maps, rb, "/usr/bin/dash")?.kind === MappingKind.DWARF, "dash");
      await waitFor(() => settled(ra, [libc, SLEEP]) && settled(rb, [libc]), "the rewrites");
      ok(unwinder.store!.stats.evictions >= 1, "dash's table evicted others");
      ok(unwinder.store!.rows <= 29_100);
      // The evicted tables' images were rewritten to frame pointers, never left pointing at a
      // freed exe id, and the evicted file is not rebuilt at once (no eviction ping-pong). All
      // tables were last used at the same time, so the one loaded first goes first: libc is
      // evicted whichever of libc and sleep finished first (sleep alone would not make room).
      noDanglingIds();
      strictEqual(mappingOf(maps, ra, libc)!.kind, MappingKind.FP);
      // Past the back-off the evicted table is built and loaded again.
      await kill(b);
      records.end(32, "exit");
      now += 61_000;
      records.refresh(31);
      await waitFor(() => mappingOf(maps, ra, libc)?.kind === MappingKind.DWARF, "libc again");
      noDanglingIds();
    } finally {
      await kill(a);
      await kill(b);
      await unwinder.close();
    }
  },
});

Deno.test({
  name: "Unwinder touches no map after close, even with a table build still running",
  ignore: !hasWasm,
  sanitizeResources: false,
  async fn() {
    const { maps, records, unwinder } = setUp();
    const child = spawn(SLEEP);
    try {
      await capture(records, child, SLEEP, 41, unwinder);
      await waitFor(() => unwinder.buildsInFlight > 0, "a build to run");
      const tablesBefore = maps.tables.size;
      const closing = unwinder.close();
      maps.close();
      await closing;
      strictEqual(unwinder.buildsInFlight, 0);
      strictEqual(maps.refusedAfterClose, 0, "no call reached the closed maps");
      strictEqual(maps.tables.size, tablesBefore, "nothing loaded after close");
    } finally {
      await kill(child);
    }
  },
});

Deno.test({
  name: "Unwinder builds a just-exec'd program's tables at normal priority, others' at nice 10",
  // Raising a worker thread's priority back to 0 needs CAP_SYS_NICE.
  ignore: !hasWasm || Deno.uid() !== 0,
  sanitizeResources: false,
  async fn() {
    for (const exec of [false, true]) {
      // Workers outlive the build (long idle time): their nice value is what the build ran at.
      const builders = new BuilderPool(1, 60_000);
      const { maps, records, unwinder } = setUp({ builders });
      const child = spawn(SLEEP);
      try {
        const r = await capture(records, child, SLEEP, 21, unwinder, false);
        if (exec) {
          unwinder.event({ ...NEW_PROCESS, type: EventType.EXEC, pid: child.pid, instance: 21 }, r);
        }
        await waitFor(
          () => mappingOf(maps, r, SLEEP)?.kind === MappingKind.DWARF,
          "sleep's table",
        );
        // Every worker built one of its files (libc, sleep) at the same priority.
        const nice = [...new Set(builders.workerNice().values())];
        strictEqual(nice.join(), exec ? "0" : "10", `exec ${exec}`);
      } finally {
        await kill(child);
        await unwinder.close();
      }
    }
  },
});
