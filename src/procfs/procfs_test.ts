// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { statSync as nodeStatSync } from "node:fs";
import * as procfs from "./mod.ts";

function caught(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}

function assertClass(e: Error, cls: abstract new (...args: never[]) => Error): void {
  ok(e instanceof cls, `${e.name}: ${e.message} is not a ${cls.name}`);
}

Deno.test("readFileSync() gives the bytes Deno reads, for files larger than one read", () => {
  // The kernel's BTF: several MiB, stable while the machine runs.
  const ours = procfs.readFileSync("/sys/kernel/btf/vmlinux");
  const deno = Deno.readFileSync("/sys/kernel/btf/vmlinux");
  ok(ours.length > 1 << 20, `vmlinux BTF is ${ours.length} bytes`);
  deepStrictEqual(ours.length, deno.length);
  ok(ours.every((b, i) => b === deno[i]));
});

Deno.test("readFileSync() with maxBytes reads that prefix and no more", () => {
  const whole = procfs.readFileSync("/sys/kernel/btf/vmlinux");
  deepStrictEqual(procfs.readFileSync("/sys/kernel/btf/vmlinux", 10), whole.slice(0, 10));
  // Past the first 16 KiB buffer.
  const prefix = procfs.readFileSync("/sys/kernel/btf/vmlinux", 20000);
  deepStrictEqual(prefix.length, 20000);
  ok(prefix.every((b, i) => b === whole[i]));
  deepStrictEqual(procfs.readFileSync("/proc/self/cmdline", 1 << 30).length > 0, true);
});

Deno.test("readTextFileSync() reads files that report a size of 0", () => {
  const cpus = procfs.readTextFileSync("/sys/devices/system/cpu/online");
  deepStrictEqual(cpus, Deno.readTextFileSync("/sys/devices/system/cpu/online"));
  const stat = procfs.readTextFileSync(`/proc/${Deno.pid}/stat`);
  ok(stat.startsWith(`${Deno.pid} (`), stat);
  deepStrictEqual(
    procfs.readTextFileSync("/proc/self/cmdline"),
    Deno.readTextFileSync("/proc/self/cmdline"),
  );
});

Deno.test("readLinkSync() resolves magic links", () => {
  deepStrictEqual(procfs.readLinkSync("/proc/self/exe"), Deno.execPath());
  deepStrictEqual(procfs.readLinkSync(`/proc/${Deno.pid}/cwd`), Deno.cwd());
});

Deno.test("readDirSync() lists what Deno.readDirSync lists", () => {
  const names = (it: Iterable<Deno.DirEntry>) => [...it].map((e) => e.name).sort();
  const ours = procfs.readDirSync("/proc/self/task");
  deepStrictEqual(names(ours), names(Deno.readDirSync("/proc/self/task")));
  ok(ours.every((e) => e.isDirectory && !e.isFile && !e.isSymlink));
  const top = procfs.readDirSync("/proc");
  ok(top.length > 100 && top.some((e) => e.name === String(Deno.pid) && e.isDirectory));
  ok(top.some((e) => e.name === "self" && e.isSymlink));
  ok(!top.some((e) => e.name === "." || e.name === ".."));
  const fds = procfs.readDirSync("/proc/self/fd");
  ok(fds.length >= 3 && fds.every((e) => e.isSymlink), JSON.stringify(fds));
});

Deno.test("statSync() agrees with Deno.statSync and with node:fs fstatSync", () => {
  const ours = procfs.statSync("/proc/self/exe");
  const deno = Deno.statSync("/proc/self/exe");
  for (
    const k of ["isFile", "isDirectory", "size", "dev", "ino", "mode", "uid", "nlink"] as const
  ) {
    deepStrictEqual(ours[k], deno[k], k);
  }
  deepStrictEqual(ours.mtime?.getTime(), deno.mtime?.getTime());
  ok(procfs.statSync("/proc/self").isDirectory);
  ok(procfs.lstatSync("/proc/self/exe").isSymlink);

  const big = procfs.statSync("/proc/self/exe", { bigint: true });
  const fd = procfs.openSync("/proc/self/exe");
  try {
    const node = nodeStatSync(Deno.execPath(), { bigint: true });
    deepStrictEqual(procfs.fstatSync(fd, { bigint: true }).ino, node.ino);
    deepStrictEqual([big.dev, big.ino, big.size, big.mtimeNs / 1_000_000n, big.mode], [
      node.dev,
      node.ino,
      node.size,
      // Deno's node:fs rounds times to milliseconds; statx gives nanoseconds.
      node.mtimeNs / 1_000_000n,
      node.mode,
    ]);
    ok(big.isFile() && !big.isDirectory() && !big.isSymbolicLink());
  } finally {
    procfs.closeSync(fd);
  }
});

Deno.test("openSync() gives a descriptor that readSync() and read() read like node:fs", async () => {
  const fd = procfs.openSync(`/proc/${Deno.pid}/status`);
  try {
    const buf = new Uint8Array(65536);
    const n = procfs.readSync(fd, buf, 0, buf.length, 0);
    ok(new TextDecoder().decode(buf.subarray(0, n)).includes(`Pid:\t${Deno.pid}\n`));
    // Positional reads do not move the file position; plain ones do.
    const head = new Uint8Array(5);
    deepStrictEqual(procfs.readSync(fd, head), 5);
    deepStrictEqual(new TextDecoder().decode(head), "Name:");
    const tail = new Uint8Array(8);
    deepStrictEqual(await procfs.read(fd, tail, 2, 3, 1), 3);
    deepStrictEqual(new TextDecoder().decode(tail.subarray(2, 5)), "ame");
    throws(() => procfs.readSync(fd, tail, 4, 8), RangeError);
  } finally {
    procfs.closeSync(fd);
  }
  const closed = caught(() => procfs.readSync(fd, new Uint8Array(1)));
  deepStrictEqual((closed as Error & { code: string }).code, "EBADF");
  const big = procfs.openSync("/sys/kernel/btf/vmlinux");
  try {
    const size = Number(procfs.fstatSync(big).size);
    const buf = new Uint8Array(4096);
    deepStrictEqual(await procfs.read(big, buf, 0, buf.length, size - 100), 100);
    deepStrictEqual(await procfs.read(big, buf, 0, buf.length, size), 0);
  } finally {
    procfs.closeSync(big);
  }
});

Deno.test("procfs errors have Deno's classes and codes", () => {
  const gone = caught(() => procfs.readTextFileSync("/proc/4194305/maps"));
  assertClass(gone, Deno.errors.NotFound);
  deepStrictEqual((gone as Error & { code: string }).code, "ENOENT");
  ok((gone as Error).message.includes("'/proc/4194305/maps'"), (gone as Error).message);
  assertClass(caught(() => procfs.readLinkSync("/proc/4194305/exe")), Deno.errors.NotFound);
  assertClass(caught(() => procfs.statSync("/proc/4194305")), Deno.errors.NotFound);
  assertClass(caught(() => procfs.readDirSync("/proc/self/stat")), Deno.errors.NotADirectory);
  const isDir = caught(() => procfs.readFileSync("/proc/self"));
  assertClass(isDir, Deno.errors.IsADirectory);
});

Deno.test("procfs refuses relative paths, .. and opens for writing", () => {
  for (const p of ["/proc/../etc/passwd", "proc/self/stat", "/sys/../etc"]) {
    throws(
      () => procfs.readFileSync(p),
      (e) => e instanceof TypeError && /without "\.\."/.test(e.message),
    );
  }
  throws(() => procfs.openSync("/proc/self/stat", 1), TypeError);
  throws(() => procfs.openSync("/proc/self/stat", 0o100), TypeError);
});

Deno.test("openTempFileSync() makes a nameless file that writeSync() and read() use", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "procfs_tmp_" });
  try {
    const fd = procfs.openTempFileSync(dir);
    try {
      deepStrictEqual(procfs.writeSync(fd, new TextEncoder().encode("hello world"), 0, 11, 0), 11);
      const buf = new Uint8Array(5);
      deepStrictEqual(await procfs.read(fd, buf, 0, 5, 6), 5);
      deepStrictEqual(new TextDecoder().decode(buf), "world");
      deepStrictEqual(procfs.fstatSync(fd).size, 11n);
      deepStrictEqual([...Deno.readDirSync(dir)].length, 0);
    } finally {
      procfs.closeSync(fd);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("procfs reads /proc and /sys where Deno's file API is refused", async () => {
  // Only --allow-ffi for libc, as in the permission-scoped agent.
  const script = `
    import * as procfs from ${JSON.stringify(new URL("./mod.ts", import.meta.url).href)};
    let denied = false;
    try { Deno.readTextFileSync("/proc/self/stat"); } catch (e) { denied = e instanceof Deno.errors.NotCapable; }
    // Outside /proc and /sys, Deno's permissions still decide.
    let etc = "";
    try { procfs.readTextFileSync("/etc/hostname"); } catch (e) { etc = (e as Error).name; }
    let tmp = "";
    try { procfs.openTempFileSync("/tmp"); } catch (e) { tmp = (e as Error).name; }
    const stat = procfs.readTextFileSync("/proc/self/stat");
    const cpus = procfs.readTextFileSync("/sys/devices/system/cpu/online");
    console.log(JSON.stringify({ denied, etc, tmp, pid: Number(stat.split(" ")[0]), self: Deno.pid, cpus: cpus.trim() }));
  `;
  const dir = await Deno.makeTempDir({ prefix: "procfs_test_" });
  const file = `${dir}/scoped.ts`;
  await Deno.writeTextFile(file, script);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...procfs.LIBC_CANDIDATES.map((p) => `--allow-ffi=${p}`), file],
    stdout: "piped",
    stderr: "piped",
  }).output().finally(() => Deno.remove(dir, { recursive: true }));
  const text = new TextDecoder().decode(out.stdout);
  ok(out.success, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(text);
  deepStrictEqual(r.denied, true);
  deepStrictEqual([r.etc, r.tmp], ["NotCapable", "NotCapable"]);
  deepStrictEqual(r.pid, r.self);
  ok(/^\d/.test(r.cpus));
});

Deno.test("setMallocOptions() passes the agent's settings to glibc, which takes them", () => {
  // glibc's default thresholds (setting them only turns off the dynamic threshold) and an arena
  // cap above the runner's count: nothing changes for this process but mallopt's answer.
  deepStrictEqual(
    procfs.setMallocOptions({ arenaMax: 64, mmapThreshold: 128 << 10, trimThreshold: 128 << 10 }),
    [],
  );
});
