// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import { MAX_CMDLINE_BYTES, ProcessReader } from "./process_reader.ts";
import {
  compileC,
  readelfBuildId,
  SLEEPER_C,
  spawnAndWaitExec,
  stop,
  withTempDir,
} from "./_test_util.ts";

Deno.test("ProcessReader.read() reads the running process and the deno binary's build ID", () => {
  const reader = new ProcessReader();
  const info = reader.read(Deno.pid)!;
  equal(info.pid, Deno.pid);
  equal(info.comm, "deno");
  equal(info.exe, Deno.execPath());
  equal(info.ppid, Deno.ppid);
  equal(info.cmdline.includes("test"), true);
  equal(info.startTimeTicks > 0, true);
  deepStrictEqual(info.mappings, [...info.mappings].sort((a, b) => a.start - b.start));

  const exe = info.mappings.filter((m) => m.path === Deno.execPath());
  equal(exe.length > 0, true);
  for (const m of exe) {
    equal(m.buildId, readelfBuildId(Deno.execPath()));
    equal(m.buildIdKind, "gnu");
    equal(m.elfType === 2 || m.elfType === 3, true);
    equal(m.loadSegment !== undefined, true);
    equal(m.special, false);
  }
  const vdso = info.mappings.find((m) => m.path === "[vdso]")!;
  deepStrictEqual([vdso.special, vdso.buildId, vdso.buildIdKind], [true, "", "none"]);
  equal(info.mappings.some((m) => m.path === "[vsyscall]" || m.path === ""), false);
  equal(reader.stats.readErrors, 0);
  equal(reader.stats.malformedMapLines, 0);
});

Deno.test("ProcessReader.read() cuts a megabyte-long command line at MAX_CMDLINE_BYTES", async () => {
  // Any user can start a process whose arguments are up to ARG_MAX long.
  const long = "x".repeat(100_000);
  // `; :` keeps sh (and its long command line) alive while sleep runs.
  const child = new Deno.Command("sh", {
    args: ["-c", "sleep 30; :", "sh", long, long, long],
    stdin: "null",
  }).spawn();
  try {
    // Until sh's exec is done its command line reads as empty (or as deno's).
    let info = new ProcessReader().read(child.pid)!;
    for (let i = 0; i < 500 && info.cmdline[1] !== "-c"; i++) {
      await new Promise((r) => setTimeout(r, 10));
      info = new ProcessReader().read(child.pid)!;
    }
    deepStrictEqual(info.cmdline.slice(1, 3), ["-c", "sleep 30; :"]);
    ok(info.cmdline[4].startsWith("xxx"), "the long argument, cut");
    const bytes = info.cmdline.join("\0").length;
    ok(bytes <= MAX_CMDLINE_BYTES, `${bytes} B`);
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});

Deno.test("ProcessReader.read() returns undefined for a pid that does not exist", () => {
  const reader = new ProcessReader();
  const pidMax = Number(Deno.readTextFileSync("/proc/sys/kernel/pid_max"));
  equal(reader.read(pidMax + 1), undefined);
  equal(reader.read(0), undefined);
  equal(reader.read(-1), undefined);
  equal(reader.read(1.5), undefined);
  equal(reader.stats.readErrors, 0);
});

Deno.test("ProcessReader.read() returns undefined for a process that exited", async () => {
  await withTempDir(async (dir) => {
    const child = await spawnAndWaitExec(compileC(dir, "sleeper", SLEEPER_C));
    await stop(child); // reaped: its pid is free
    equal(new ProcessReader().read(child.pid), undefined);
  });
});

Deno.test("ProcessReader.read() gets the build ID of a deleted binary through map_files", async () => {
  await withTempDir(async (dir) => {
    const bin = compileC(dir, "sleeper", SLEEPER_C, ["-Wl,--build-id=sha1"]);
    const want = readelfBuildId(bin);
    const child = await spawnAndWaitExec(bin);
    try {
      Deno.removeSync(bin);
      const info = new ProcessReader().read(child.pid)!;
      equal(info.exe, `${bin} (deleted)`);
      deepStrictEqual(info.cmdline, [bin]);
      const m = info.mappings.find((m) => m.path === bin)!;
      equal(m.deleted, true);
      equal(m.buildId, want);
      equal(m.buildIdKind, "gnu");
      equal(m.loadSegment !== undefined, true);
    } finally {
      await stop(child);
    }
  });
});

Deno.test("ProcessReader.read() reads a library shared by two processes once", async () => {
  await withTempDir(async (dir) => {
    const bin = compileC(dir, "sleeper", SLEEPER_C, ["-Wl,--build-id=none"]);
    const a = await spawnAndWaitExec(bin);
    const b = await spawnAndWaitExec(bin);
    try {
      const reader = new ProcessReader();
      const first = reader.read(a.pid)!;
      const misses = reader.stats.buildIdCacheMisses;
      const hits = reader.stats.buildIdCacheHits;
      const second = reader.read(b.pid)!;
      equal(reader.stats.buildIdCacheMisses, misses);
      const files = second.mappings.filter((m) => !m.special).length;
      equal(reader.stats.buildIdCacheHits - hits, files);
      const own = second.mappings.find((m) => m.path === bin)!;
      equal(own.buildIdKind, "text-hash");
      match(own.buildId, /^[0-9a-f]{32}$/);
      deepStrictEqual(first.mappings.find((m) => m.path === bin)?.buildId, own.buildId);
    } finally {
      await stop(a);
      await stop(b);
    }
  });
});

Deno.test("ProcessReader keeps at most buildIdCacheSize files", async () => {
  await withTempDir(async (dir) => {
    const child = await spawnAndWaitExec(compileC(dir, "sleeper", SLEEPER_C));
    try {
      const reader = new ProcessReader({ buildIdCacheSize: 1 });
      const files = reader.read(child.pid)!.mappings.filter((m) => !m.special).length;
      equal(files > 1, true); // the binary, libc and ld.so at least
      reader.read(child.pid);
      equal(reader.stats.buildIdCacheMisses, 2 * files);
    } finally {
      await stop(child);
    }
  });
});

Deno.test("ProcessReader.threadName() reads a thread's comm", () => {
  const reader = new ProcessReader();
  equal(reader.threadName(Deno.pid, Deno.pid), "deno");
  const tids = [...Deno.readDirSync(`/proc/${Deno.pid}/task`)].map((e) => Number(e.name));
  for (const tid of tids) {
    const name = reader.threadName(Deno.pid, tid);
    equal(typeof name === "string" && name.length > 0 && !name.endsWith("\n"), true);
  }
  equal(reader.threadName(Deno.pid, 0), undefined);
  const pidMax = Number(Deno.readTextFileSync("/proc/sys/kernel/pid_max"));
  equal(reader.threadName(Deno.pid, pidMax + 1), undefined);
});
