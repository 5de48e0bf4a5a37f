// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, equal } from "node:assert/strict";
import { parseMaps } from "./maps.ts";

const FIXTURE = [
  "55d0c0a00000-55d0c0a02000 r--p 00000000 fe:00 247278                     /usr/bin/my app",
  "55d0c0a02000-55d0c0a08000 r-xp 00002000 fe:00 247278                     /usr/bin/my app",
  "55d0c1955000-55d0c1997000 rw-p 00000000 00:00 0                          [heap]",
  "7f24c3c3d000-7f24c3c40000 rw-p 00000000 00:00 0 ",
  "7f24c3d00000-7f24c3d20000 r-xp 00000000 00:05 1234                       /memfd:jit (deleted)",
  "7f24c3e00000-7f24c3e10000 r-xp 00001000 103:02 9876543210                 /opt/x/lib (deleted) (deleted)",
  "7ffc32c51000-7ffc32c72000 rw-p 00000000 00:00 0                          [stack]",
  "7fa1442a8000-7fa1442aa000 r-xp 00000000 00:00 0                          [vdso]",
  "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
  "",
].join("\n");

Deno.test("parseMaps() keeps paths with spaces", () => {
  const maps = parseMaps(FIXTURE);
  equal(maps[0].path, "/usr/bin/my app");
  deepStrictEqual(maps[1], {
    start: 0x55d0c0a02000,
    limit: 0x55d0c0a08000,
    perms: "r-xp",
    offset: 0x2000,
    dev: "fe:00",
    inode: 247278,
    path: "/usr/bin/my app",
    deleted: false,
  });
});

Deno.test("parseMaps() strips one (deleted) suffix and marks the mapping deleted", () => {
  const maps = parseMaps(FIXTURE);
  equal(maps[4].path, "/memfd:jit");
  equal(maps[4].deleted, true);
  equal(maps[5].path, "/opt/x/lib (deleted)");
  equal(maps[5].deleted, true);
  equal(maps[5].dev, "103:02");
  equal(maps[5].inode, 9876543210);
});

Deno.test("parseMaps() gives anonymous mappings an empty path and keeps pseudo-names", () => {
  const maps = parseMaps(FIXTURE);
  equal(maps.length, 9);
  equal(maps[3].path, "");
  equal(maps[3].inode, 0);
  deepStrictEqual(maps.map((m) => m.path).filter((p) => p.startsWith("[")), [
    "[heap]",
    "[stack]",
    "[vdso]",
    "[vsyscall]",
  ]);
  equal(maps[8].perms, "--xp");
});

Deno.test("parseMaps() skips and counts malformed lines", () => {
  const counters = { malformedMapLines: 0 };
  const text = [
    "garbage",
    "7f00-7000 r-xp 00000000 fe:00 1 /end/before/start",
    "7f00-8000 r-x 00000000 fe:00 1 /short/perms",
    "7f00-8000 r-xp 0000000g fe:00 1 /bad/offset",
    "7f00-8000 r-xp 00000000 fe00 1 /bad/dev",
    "7f00-8000 r-xp 00000000 fe:00 x /bad/inode",
    "0x7f00-8000 r-xp 00000000 fe:00 1 /prefix",
    "7f00-8000 r-xp 00000000 fe:00 1 /good",
    "7F00-8000 r-xp 00000000 fe:00 1 /uppercase",
  ].join("\n");
  const maps = parseMaps(text, counters);
  deepStrictEqual(maps.map((m) => m.path), ["/good"]);
  equal(counters.malformedMapLines, 8);
});

Deno.test("parseMaps() reads the maps of the running process", () => {
  const counters = { malformedMapLines: 0 };
  const maps = parseMaps(Deno.readTextFileSync("/proc/self/maps"), counters);
  equal(counters.malformedMapLines, 0);
  equal(maps.some((m) => m.path === Deno.execPath() && m.perms.includes("x")), true);
});
