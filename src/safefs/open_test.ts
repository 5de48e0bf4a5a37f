// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, equal, throws } from "node:assert/strict";
import {
  closeSafeFile,
  openInRoot,
  openRegularFile,
  readRegularTextFile,
  readSafeFile,
  type Resolver,
  SafeOpenError,
} from "./mod.ts";
import { OpenWatch } from "../../tests/_lib/inotify.ts";

const isRoot = Deno.uid() === 0;

function read(root: string, path: string, resolver: Resolver, maxBytes?: number): string {
  const f = openInRoot(root, path, { resolver, maxBytes });
  try {
    return new TextDecoder().decode(readSafeFile(f));
  } finally {
    closeSafeFile(f);
  }
}

function refused(f: () => unknown, reason: SafeOpenError["reason"]): void {
  throws(f, (e: Error) => {
    equal(e instanceof SafeOpenError, true, String(e));
    equal((e as SafeOpenError).reason, reason, e.message);
    return true;
  });
}

/** A fake process root beside a directory outside it that holds a "secret". */
function fixture(): { root: string; outside: string; secret: string; cleanup(): void } {
  const base = Deno.makeTempDirSync({ prefix: "safefs_" });
  const root = `${base}/root`;
  const outside = `${base}/outside`;
  Deno.mkdirSync(`${root}/usr/lib/debug/.build-id/ab`, { recursive: true });
  Deno.mkdirSync(`${root}/etc`, { recursive: true });
  Deno.mkdirSync(outside);
  const secret = `${outside}/shadow`;
  Deno.writeTextFileSync(secret, "host secret");
  Deno.writeTextFileSync(`${root}/etc/shadow`, "root's own");
  Deno.writeTextFileSync(`${root}/etc/ten`, "0123456789");
  return { root, outside, secret, cleanup: () => Deno.removeSync(base, { recursive: true }) };
}

for (const resolver of ["openat2", "walk"] as const) {
  Deno.test(`openInRoot() (${resolver}) resolves absolute symlinks inside the root`, () => {
    const fx = fixture();
    try {
      const link = `${fx.root}/usr/lib/debug/.build-id/ab/cdef.debug`;
      Deno.symlinkSync("/etc/shadow", link);
      equal(read(fx.root, "/usr/lib/debug/.build-id/ab/cdef.debug", resolver), "root's own");
      // A link to the host path of the secret names a path the root does not have.
      Deno.removeSync(link);
      Deno.symlinkSync(fx.secret, link);
      using watch = new OpenWatch([fx.secret]);
      refused(() => read(fx.root, "/usr/lib/debug/.build-id/ab/cdef.debug", resolver), "not-found");
      deepStrictEqual(watch.events(), [], "the host file was never opened");
      Deno.readTextFileSync(fx.secret); // The watch does see an open.
      equal(watch.events()[0], `open ${fx.secret}`);
    } finally {
      fx.cleanup();
    }
  });

  Deno.test(`openInRoot() (${resolver}) clamps .. at the root`, () => {
    const fx = fixture();
    try {
      Deno.symlinkSync("../../../../../../../../../etc/shadow", `${fx.root}/usr/up`);
      equal(read(fx.root, "/usr/up", resolver), "root's own");
      equal(read(fx.root, "/../../../../etc/shadow", resolver), "root's own");
      equal(read(fx.root, "usr/../../etc/./shadow", resolver), "root's own");
    } finally {
      fx.cleanup();
    }
  });

  Deno.test(`openInRoot() (${resolver}) refuses FIFOs, directories and symlink loops`, () => {
    const fx = fixture();
    try {
      new Deno.Command("mkfifo", { args: [`${fx.root}/fifo`] }).outputSync();
      refused(() => read(fx.root, "/fifo", resolver), "not-regular");
      refused(() => read(fx.root, "/etc", resolver), "not-regular");
      Deno.symlinkSync("/loop2", `${fx.root}/loop1`);
      Deno.symlinkSync("/loop1", `${fx.root}/loop2`);
      refused(() => read(fx.root, "/loop1", resolver), "loop");
      refused(() => read(fx.root, "/etc/shadow/x", resolver), "not-found");
    } finally {
      fx.cleanup();
    }
  });

  Deno.test(`openInRoot() (${resolver}) refuses a file over the size cap before reading`, () => {
    const fx = fixture();
    try {
      equal(read(fx.root, "/etc/ten", resolver, 10), "0123456789");
      using watch = new OpenWatch([`${fx.root}/etc/ten`]);
      refused(() => read(fx.root, "/etc/ten", resolver, 9), "too-large");
      deepStrictEqual(watch.events(), []);
    } finally {
      fx.cleanup();
    }
  });

  Deno.test({
    name: `openInRoot() (${resolver}) never opens a device node, in the root or through a link`,
    ignore: !isRoot,
    fn() {
      const fx = fixture();
      try {
        // /dev/null's numbers: opening it has no side effect, but inotify sees the open.
        const inRoot = `${fx.root}/usr/lib/debug/.build-id/ab/dev.debug`;
        const hostDev = `${fx.outside}/null`;
        for (const p of [inRoot, hostDev]) {
          new Deno.Command("mknod", { args: [p, "c", "1", "3"] }).outputSync();
        }
        Deno.symlinkSync(hostDev, `${fx.root}/usr/lib/debug/.build-id/ab/link.debug`);
        using watch = new OpenWatch([inRoot, hostDev]);
        refused(
          () => read(fx.root, "/usr/lib/debug/.build-id/ab/dev.debug", resolver),
          "not-regular",
        );
        refused(
          () => read(fx.root, "/usr/lib/debug/.build-id/ab/link.debug", resolver),
          "not-found",
        );
        deepStrictEqual(watch.events(), []);
        Deno.openSync(hostDev).close(); // The watch does see an open of a device.
        equal(watch.events()[0], `open ${hostDev}`);
      } finally {
        fx.cleanup();
      }
    },
  });
}

Deno.test("openInRoot() (openat2) refuses magic links such as /proc/self/root", () => {
  refused(() => openInRoot("/", "/proc/self/root/etc/hostname", { resolver: "openat2" }), "loop");
});

Deno.test("openRegularFile() refuses a FIFO and /dev/zero at once, follows symlinks", () => {
  const dir = Deno.makeTempDirSync();
  try {
    new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).outputSync();
    refused(() => openRegularFile(`${dir}/fifo`, 1024), "not-regular");
    refused(() => openRegularFile("/dev/zero", 1024), "not-regular");
    refused(() => openRegularFile(`${dir}/missing`, 1024), "not-found");
    Deno.writeTextFileSync(`${dir}/real`, "token");
    Deno.symlinkSync(`${dir}/real`, `${dir}/link`);
    equal(readRegularTextFile(`${dir}/link`, 1024), "token");
    refused(() => readRegularTextFile(`${dir}/link`, 4), "too-large");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("safefs works in a permission-scoped process and keeps Deno's read scope", async () => {
  // As the scoped agent runs: --allow-ffi, and reads only where its flags point (here `dir`).
  const dir = await Deno.makeTempDir({ prefix: "safefs_scoped_" });
  try {
    await Deno.writeTextFile(`${dir}/token`, "secret-token");
    const script = `
      import { openInRoot, readRegularTextFile, readSafeFile, closeSafeFile } from ${
      JSON.stringify(new URL("./mod.ts", import.meta.url).href)
    };
      const f = openInRoot("/proc/" + Deno.pid + "/root", "/etc/hostname", { maxBytes: 4096 });
      const hostname = new TextDecoder().decode(readSafeFile(f));
      closeSafeFile(f);
      const token = readRegularTextFile(${JSON.stringify(`${dir}/token`)}, 1024);
      let outside = "";
      try { readRegularTextFile("/etc/hostname", 4096); } catch (e) { outside = e.reason; }
      let outsideRoot = "";
      try { openInRoot("/", "/etc/hostname"); } catch (e) { outsideRoot = e.reason; }
      console.log(JSON.stringify({ hostname, token, outside, outsideRoot }));
    `;
    await Deno.writeTextFile(`${dir}/scoped.ts`, script);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-ffi", `--allow-read=${dir}`, `${dir}/scoped.ts`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    equal(out.success, true, new TextDecoder().decode(out.stderr));
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    deepStrictEqual(r, {
      hostname: Deno.readTextFileSync("/etc/hostname"),
      token: "secret-token",
      outside: "refused",
      outsideRoot: "refused",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
