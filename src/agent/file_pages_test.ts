// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { dropIdleFilePages, droppableMappings, FilePageDropper } from "./file_pages.ts";

/** One smaps entry with the fields the parser reads. */
function entry(head: string, rssKiB: number, anonKiB: number): string {
  return `${head}\nSize:               1024 kB\nRss:             ${rssKiB} kB\n` +
    `Pss:             ${rssKiB} kB\nAnonymous:       ${anonKiB} kB\nVmFlags: rd ex mr mw me\n`;
}

const SMAPS = [
  entry("55d0a0000000-55d0a4000000 r--p 00000000 08:01 1234   /usr/bin/deno", 8192, 0),
  entry("55d0a4000000-55d0a8000000 r-xp 04000000 08:01 1234   /usr/bin/deno", 20480, 0),
  // Relocated data: copy-on-write pages of its own.
  entry("55d0a8000000-55d0a8200000 r--p 08000000 08:01 1234   /usr/bin/deno", 2048, 2048),
  entry("55d0a8200000-55d0a8400000 rw-p 08200000 08:01 1234   /usr/bin/deno", 2048, 1024),
  entry("55d0a9000000-55d0a9100000 rw-p 00000000 00:00 0      [heap]", 1024, 1024),
  entry("7f0000000000-7f0000040000 r--s 00000000 00:0f 99     anon_inode:bpf-map", 256, 0),
  entry(
    "7f0000100000-7f0000200000 r--s 00000000 08:01 77     /root/.cache/deno/v8_code_cache_v2",
    512,
    0,
  ),
  entry("7f0000300000-7f0000400000 r--p 00000000 08:01 78     /tmp/gone.so (deleted)", 64, 0),
  entry("7f0000400000-7f0000500000 r--s 00000000 00:05 79     /dev/dri/card0", 64, 0),
  entry("7f0000500000-7f0000600000 r-xp 00000000 08:01 80     /usr/lib/libc.so.6", 0, 0),
  entry("7f0000600000-7f0000700000 ---p 00000000 08:01 80     /usr/lib/libc.so.6", 0, 0),
  entry("7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0      [stack]", 132, 132),
].join("");

Deno.test("droppableMappings() keeps read-only file mappings without private pages", () => {
  const got = droppableMappings(SMAPS);
  deepStrictEqual(
    got.map((m) => [m.start.toString(16), m.end.toString(16), m.path, m.rss]),
    [
      ["55d0a0000000", "55d0a4000000", "/usr/bin/deno", 8192 * 1024],
      ["55d0a4000000", "55d0a8000000", "/usr/bin/deno", 20480 * 1024],
      ["7f0000100000", "7f0000200000", "/root/.cache/deno/v8_code_cache_v2", 512 * 1024],
    ],
  );
});

Deno.test("droppableMappings() keeps only the files asked for", () => {
  deepStrictEqual(
    droppableMappings(SMAPS, new Set(["/usr/bin/deno"])).map((m) => m.start.toString(16)),
    ["55d0a0000000", "55d0a4000000"],
  );
});

Deno.test("droppableMappings() treats a mapping without an Anonymous line as private", () => {
  const text = "55d0a0000000-55d0a4000000 r--p 00000000 08:01 1234   /usr/bin/deno\nRss: 8 kB\n";
  deepStrictEqual(droppableMappings(text), []);
});

Deno.test("dropIdleFilePages() drops each droppable range whole and counts what failed", () => {
  const calls: [bigint, bigint][] = [];
  const r = dropIdleFilePages(() => SMAPS, (start, length) => {
    if (start === 0x7f0000100000n) throw new Error("EINVAL");
    calls.push([start, length]);
  }, new Set(["/usr/bin/deno", "/root/.cache/deno/v8_code_cache_v2"]));
  deepStrictEqual(calls, [[0x55d0a0000000n, 0x4000000n], [0x55d0a4000000n, 0x4000000n]]);
  deepStrictEqual(r, { mappings: 2, bytes: (8192 + 20480) * 1024, failed: 1 });
});

function rssFileKiB(): number {
  return Number(/^RssFile:\s+(\d+) kB$/m.exec(Deno.readTextFileSync("/proc/self/status"))![1]);
}

/** Resident bytes of this process's read-only file mappings other than the executable's. */
function otherFilesRss(): number {
  const exe = Deno.readLinkSync("/proc/self/exe");
  return droppableMappings(Deno.readTextFileSync("/proc/self/smaps")).filter((m) => m.path !== exe)
    .reduce((a, m) => a + m.rss, 0);
}

Deno.test("dropIdleFilePages() lowers this process's RssFile and the process runs on", async () => {
  const others = otherFilesRss();
  const before = rssFileKiB();
  const r = dropIdleFilePages();
  const after = rssFileKiB();
  equal(r.failed, 0);
  ok(r.mappings > 0, "the deno binary is mapped read-only");
  // Only the executable's own mappings went: the other files' pages are all still mapped.
  ok(otherFilesRss() >= others, `other files ${others} -> ${otherFilesRss()} bytes`);
  ok(after < before - 4096, `RssFile ${before} -> ${after} KiB`);
  // Code and data of the binary fault back in as they are used: run some of it.
  const text = JSON.stringify(await crypto.subtle.digest("SHA-256", new Uint8Array(1 << 16)));
  ok(text.length > 0);
  ok(rssFileKiB() > after, "used pages came back");
});

Deno.test("FilePageDropper drops after firstMs, then every everyMs, until stopped", async () => {
  const at: number[] = [];
  const t0 = performance.now();
  const errors: string[] = [];
  let n = 0;
  const dropper = new FilePageDropper({
    firstMs: 50,
    everyMs: 20,
    dropOnce: () => {
      at.push(performance.now() - t0);
      if (++n === 2) throw new Error("smaps unreadable");
      return { mappings: 1, bytes: 4096, failed: 0 };
    },
    onError: (e) => errors.push(e.message),
  });
  dropper.start();
  await new Promise((r) => setTimeout(r, 150));
  dropper.stop();
  const count = at.length;
  await new Promise((r) => setTimeout(r, 60));
  equal(at.length, count, "no drop after stop()");
  ok(count >= 3, `drops at ${at.map((x) => x.toFixed(0)).join(", ")} ms`);
  ok(at[0] >= 45, `first drop at ${at[0]} ms`);
  deepStrictEqual(errors, ["smaps unreadable"]);
});
