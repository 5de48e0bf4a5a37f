// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { elfBuildId, FileElfSource } from "../process/mod.ts";
import { OpenWatch } from "../../tests/_lib/inotify.ts";
import { fileCrc32, readDebuglink } from "./_debuglink.ts";
import { findDebuginfo, type FindRequest, openMappedBinary } from "./finder.ts";

const SOURCE = "int work(int x) { return x * 3; }\nint main(int c, char **v) { return work(c); }\n";

async function sh(cmd: string, args: string[]): Promise<void> {
  const r = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (!r.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  }
}

/** A binary with a GNU build ID and its separate debug file, in a fresh directory. */
async function fixture(): Promise<{ dir: string; bin: string; debug: string; id: string }> {
  const dir = await Deno.makeTempDir({ prefix: "debuginfo-finder-" });
  await Deno.writeTextFile(`${dir}/app.c`, SOURCE);
  const bin = `${dir}/bin/app`;
  await Deno.mkdir(`${dir}/bin`);
  await sh("gcc", ["-g", "-O1", "-Wl,--build-id=sha1", "-o", bin, `${dir}/app.c`]);
  const debug = `${dir}/app.debug`;
  await sh("objcopy", ["--only-keep-debug", bin, debug]);
  using f = FileElfSource.open(bin);
  const id = elfBuildId(f)!;
  strictEqual(id.kind, "gnu");
  return { dir, bin, debug, id: id.id };
}

function request(bin: string, id: string, dirs: string[], binary: FileElfSource): FindRequest {
  return { root: "", directories: dirs, binaryPath: bin, buildId: id, buildIdKind: "gnu", binary };
}

Deno.test("findDebuginfo finds <dir>/.build-id/xx/rest.debug with a matching build ID", async () => {
  const { dir, bin, debug, id } = await fixture();
  try {
    const bid = `${dir}/usr-lib-debug/.build-id/${id.slice(0, 2)}`;
    await Deno.mkdir(bid, { recursive: true });
    await Deno.copyFile(debug, `${bid}/${id.slice(2)}.debug`);
    using binary = FileElfSource.open(bin);
    const found = findDebuginfo(
      request(bin, id, [`${dir}/nowhere`, `${dir}/usr-lib-debug`], binary),
    );
    ok(found);
    strictEqual(found.how, "build-id");
    strictEqual(found.path, `${bid}/${id.slice(2)}.debug`);
    found.file.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findDebuginfo rejects a file at the build-ID path whose build ID differs", async () => {
  const a = await fixture();
  const b = await fixture();
  try {
    // Rebuild b from other code so that its build ID surely differs from a's.
    await Deno.writeTextFile(`${b.dir}/app.c`, SOURCE + "int other(void) { return 7; }\n");
    await sh("gcc", ["-g", "-O1", "-Wl,--build-id=sha1", "-o", b.bin, `${b.dir}/app.c`]);
    await sh("objcopy", ["--only-keep-debug", b.bin, b.debug]);
    const bid = `${a.dir}/dbg/.build-id/${a.id.slice(0, 2)}`;
    await Deno.mkdir(bid, { recursive: true });
    // A planted file: b's debug info (or any host file) under a's build-ID name.
    await Deno.copyFile(b.debug, `${bid}/${a.id.slice(2)}.debug`);
    using binary = FileElfSource.open(a.bin);
    strictEqual(findDebuginfo(request(a.bin, a.id, [`${a.dir}/dbg`], binary)), undefined);
  } finally {
    await Deno.remove(a.dir, { recursive: true });
    await Deno.remove(b.dir, { recursive: true });
  }
});

Deno.test("findDebuginfo follows .gnu_debuglink when the CRC matches", async () => {
  const { dir, bin, debug, id } = await fixture();
  try {
    const linked = `${dir}/bin/app.linked`;
    await Deno.copyFile(debug, `${dir}/bin/app.debug`);
    await sh("objcopy", [`--add-gnu-debuglink=${dir}/bin/app.debug`, bin, linked]);
    using binary = FileElfSource.open(linked);
    const link = readDebuglink(binary);
    ok(link);
    strictEqual(link.name, "app.debug");
    using dbg = FileElfSource.open(`${dir}/bin/app.debug`);
    strictEqual(link.crc, fileCrc32(dbg));
    const found = findDebuginfo(request(linked, id, [], binary));
    ok(found);
    strictEqual(found.how, "debuglink");
    strictEqual(found.path, `${dir}/bin/app.debug`);
    found.file.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findDebuginfo rejects a .gnu_debuglink target whose CRC does not match", async () => {
  const { dir, bin, debug, id } = await fixture();
  try {
    const linked = `${dir}/bin/app.linked`;
    await Deno.copyFile(debug, `${dir}/bin/app.debug`);
    await sh("objcopy", [`--add-gnu-debuglink=${dir}/bin/app.debug`, bin, linked]);
    // Change the debug file after linking: still ELF, same build ID, other CRC.
    const bytes = await Deno.readFile(`${dir}/bin/app.debug`);
    await Deno.writeFile(`${dir}/bin/app.debug`, new Uint8Array([...bytes, 0]));
    // Also offer it in .debug/ and under a debug directory: each place must be rejected.
    await Deno.mkdir(`${dir}/bin/.debug`);
    await Deno.copyFile(`${dir}/bin/app.debug`, `${dir}/bin/.debug/app.debug`);
    using binary = FileElfSource.open(linked);
    strictEqual(findDebuginfo(request(linked, id, [`${dir}/dbg`], binary)), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findDebuginfo looks for <binary>.debug next to a binary without a link", async () => {
  const { dir, bin, debug, id } = await fixture();
  try {
    await Deno.copyFile(debug, `${bin}.debug`);
    using binary = FileElfSource.open(bin);
    const found = findDebuginfo(request(bin, id, [], binary));
    ok(found);
    strictEqual(found.how, "next-to-binary");
    found.file.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findDebuginfo finds nothing for a binary without debug files, and skips FIFOs", async () => {
  const { dir, bin, id } = await fixture();
  try {
    const bid = `${dir}/dbg/.build-id/${id.slice(0, 2)}`;
    await Deno.mkdir(bid, { recursive: true });
    await sh("mkfifo", [`${bid}/${id.slice(2)}.debug`]);
    using binary = FileElfSource.open(bin);
    strictEqual(findDebuginfo(request(bin, id, [`${dir}/dbg`], binary)), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readDebuglink refuses names that leave their directory", async () => {
  const { dir, bin } = await fixture();
  try {
    const evil = `${dir}/bin/app.evil`;
    await Deno.writeTextFile(`${dir}/x`, "");
    // objcopy stores only the base name; write a path into the section by hand.
    await sh("objcopy", [`--add-gnu-debuglink=${dir}/x`, bin, evil]);
    {
      using f = FileElfSource.open(evil);
      strictEqual(readDebuglink(f)?.name, "x");
    }
    const bytes = await Deno.readFile(evil);
    const at = findBytes(bytes, new TextEncoder().encode("x\0\0\0"));
    ok(at > 0);
    bytes.set(new TextEncoder().encode("/\0"), at); // name "/" : a directory part
    await Deno.writeFile(evil, bytes);
    using f = FileElfSource.open(evil);
    strictEqual(readDebuglink(f), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openMappedBinary opens a live process's mapping through map_files", () => {
  const self = Deno.readTextFileSync("/proc/self/maps").split("\n")
    .map((l) => l.split(/\s+/))
    .find((f) => f[1]?.includes("x") && f[5] === Deno.execPath());
  ok(self, "the runtime's text mapping");
  const [start, limit] = self[0].split("-").map((h) => parseInt(h, 16));
  using exe = FileElfSource.open(Deno.execPath());
  const id = elfBuildId(exe)!.id;
  const found = openMappedBinary(Deno.pid, { start, limit, path: Deno.execPath(), buildId: id });
  ok(found);
  strictEqual(found.how, "binary");
  found.file.close();
  strictEqual(
    openMappedBinary(Deno.pid, { start, limit, path: Deno.execPath(), buildId: "00ff" }),
    undefined,
    "a different build ID is refused",
  );
});

function findBytes(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = hay.length - needle.length; i >= 0; i--) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** A process chrooted into `dir` (python chroots itself, then sleeps), and its pid. */
async function chrooted(dir: string): Promise<{ pid: number; stop(): Promise<void> }> {
  const child = new Deno.Command("python3", {
    args: [
      "-c",
      `import os,sys,time; os.chroot(sys.argv[1]); os.chdir("/"); print("in", flush=True); time.sleep(60)`,
      dir,
    ],
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read(); // "in": the chroot is done.
  reader.releaseLock();
  return {
    pid: child.pid,
    async stop() {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel();
    },
  };
}

// Issue 9: a chrooted process whose /usr/lib/debug/.build-id/...debug is a symlink to the host's
// /etc/shadow (or is a device node) made the agent open them (inotify saw open and read).
Deno.test({
  name: "findDebuginfo opens nothing outside a chrooted process's root, and no device node",
  ignore: Deno.uid() !== 0,
  async fn() {
    const { dir, bin, debug, id } = await fixture();
    const root = `${dir}/chroot`;
    const secret = `${dir}/host-secret`;
    const hostDevice = `${dir}/host-null`;
    await Deno.mkdir(root);
    const proc = await chrooted(root);
    try {
      await Deno.writeTextFile(secret, "root:$6$hash:19000:0:99999:7:::\n");
      await sh("mknod", [hostDevice, "c", "1", "3"]);
      const bid = `${root}/usr/lib/debug/.build-id/${id.slice(0, 2)}`;
      await Deno.mkdir(bid, { recursive: true });
      const target = `${bid}/${id.slice(2)}.debug`;
      await Deno.mkdir(`${root}/usr/bin`, { recursive: true });
      await Deno.copyFile(bin, `${root}/usr/bin/app`);
      using binary = FileElfSource.open(bin);
      const req: FindRequest = {
        root: `/proc/${proc.pid}/root`,
        directories: ["/usr/lib/debug"],
        binaryPath: "/usr/bin/app",
        buildId: id,
        buildIdKind: "gnu",
        binary,
      };
      for (const plant of ["link to host file", "link to host device", "device node"]) {
        await Deno.remove(target).catch(() => {});
        await Deno.remove(`${root}/usr/bin/app.debug`).catch(() => {});
        if (plant === "link to host file") await Deno.symlink(secret, target);
        if (plant === "link to host device") await Deno.symlink(hostDevice, target);
        if (plant === "device node") await sh("mknod", [target, "c", "1", "3"]);
        // The next-to-binary candidate too: a relative link climbing out of the root.
        await Deno.symlink(`../../../../../../..${secret}`, `${root}/usr/bin/app.debug`);
        const watched = [secret, hostDevice, ...(plant === "device node" ? [target] : [])];
        using watch = new OpenWatch(watched);
        strictEqual(findDebuginfo(req), undefined, plant);
        deepStrictEqual(watch.events(), [], `${plant}: nothing opened`);
      }
      // The genuine debug file inside the root is found through the same paths.
      await Deno.remove(target);
      await Deno.copyFile(debug, target);
      const found = findDebuginfo(req);
      strictEqual(found?.how, "build-id");
      found?.file.close();
    } finally {
      await proc.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
