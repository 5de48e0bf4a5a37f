// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, throws } from "node:assert/strict";
import { statSync } from "node:fs";
import { parseMaps, type ProcMapping } from "./maps.ts";
import {
  devFromMaps,
  identifyMappedFile,
  isSafeRootPath,
  mapFilesName,
  openMappedFile,
} from "./_open_mapped_file.ts";
import { withTempDir } from "./_test_util.ts";

function ownExeMapping(): ProcMapping {
  const maps = parseMaps(Deno.readTextFileSync(`/proc/${Deno.pid}/maps`));
  return maps.find((m) => m.path === Deno.execPath() && m.perms.includes("x"))!;
}

/** The maps spelling (`major:minor` hex) of a stat device number; inverse of devFromMaps. */
function mapsDev(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major.toString(16).padStart(2, "0")}:${minor.toString(16).padStart(2, "0")}`;
}

Deno.test("devFromMaps() matches the st_dev of the mapped file", () => {
  const m = ownExeMapping();
  equal(devFromMaps(m.dev), statSync(Deno.execPath(), { bigint: true }).dev);
  equal(devFromMaps("103:1a2"), (0x103n << 8n) | 0xa2n | (0x100n << 12n));
  equal(devFromMaps("fe00"), undefined);
});

Deno.test("mapFilesName() spells the range as the kernel names map_files entries", () => {
  const m = ownExeMapping();
  const names = [...Deno.readDirSync(`/proc/${Deno.pid}/map_files`)].map((e) => e.name);
  equal(names.includes(mapFilesName(m)), true);
  equal(mapFilesName({ start: 0x7f00ab, limit: 0x7f10ab }), "7f00ab-7f10ab");
});

Deno.test("isSafeRootPath() refuses relative paths and .. components", () => {
  equal(isSafeRootPath("/usr/lib/libc.so.6"), true);
  equal(isSafeRootPath("/usr/lib/..x/a..b"), true);
  equal(isSafeRootPath("/usr/../../etc/shadow"), false);
  equal(isSafeRootPath("/.."), false);
  equal(isSafeRootPath("usr/lib/libc.so.6"), false);
  equal(isSafeRootPath(""), false);
});

Deno.test("identifyMappedFile() goes through map_files first", () => {
  const id = identifyMappedFile(Deno.pid, ownExeMapping());
  equal(id.route, "map_files");
  using src = openMappedFile(id);
  equal(src.size, Deno.statSync(Deno.execPath()).size);
});

Deno.test("identifyMappedFile() falls back to /proc/PID/root when map_files is not used", () => {
  const id = identifyMappedFile(Deno.pid, ownExeMapping(), { useMapFiles: false });
  equal(id.route, "root");
  equal(id.path, `/proc/${Deno.pid}/root${Deno.execPath()}`);
  openMappedFile(id).close();
});

Deno.test("identifyMappedFile() refuses a file whose inode or device is not the mapping's", () => {
  const m = ownExeMapping();
  const wrongInode = { ...m, inode: m.inode + 1 };
  throws(() => identifyMappedFile(Deno.pid, wrongInode), /inode/);
  throws(() => identifyMappedFile(Deno.pid, wrongInode, { useMapFiles: false }), /device\/inode/);
  const wrongDev = { ...m, dev: "ff:ff" };
  throws(() => identifyMappedFile(Deno.pid, wrongDev, { useMapFiles: false }), /device\/inode/);
});

Deno.test("identifyMappedFile() refuses .. paths and deleted files on the fallback route", () => {
  const m = ownExeMapping();
  throws(
    () =>
      identifyMappedFile(Deno.pid, { ...m, path: "/usr/../etc/passwd" }, { useMapFiles: false }),
    /refusing path/,
  );
  throws(
    () => identifyMappedFile(Deno.pid, { ...m, deleted: true }, { useMapFiles: false }),
    /deleted/,
  );
});

Deno.test("identifyMappedFile() does not follow a symlink to another file", async () => {
  await withTempDir((dir) => {
    Deno.writeTextFileSync(`${dir}/real`, "real");
    Deno.writeTextFileSync(`${dir}/secret`, "secret");
    Deno.symlinkSync(`${dir}/secret`, `${dir}/link`);
    const st = statSync(`${dir}/real`, { bigint: true });
    // A mapping of "real" whose path now names a symlink to "secret".
    const m: ProcMapping = {
      start: 0x1000,
      limit: 0x2000,
      perms: "r-xp",
      offset: 0,
      dev: mapsDev(st.dev),
      inode: Number(st.ino),
      path: `${dir}/link`,
      deleted: false,
    };
    throws(() => identifyMappedFile(Deno.pid, m, { useMapFiles: false }), /device\/inode/);
    equal(
      identifyMappedFile(Deno.pid, { ...m, path: `${dir}/real` }, { useMapFiles: false }).route,
      "root",
    );
  });
});

Deno.test("openMappedFile() refuses a file that changed after it was identified", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/lib.so`;
    Deno.writeTextFileSync(path, "v1");
    const st = statSync(path, { bigint: true });
    const m: ProcMapping = {
      start: 0x1000,
      limit: 0x2000,
      perms: "r-xp",
      offset: 0,
      dev: mapsDev(st.dev),
      inode: Number(st.ino),
      path,
      deleted: false,
    };
    const id = identifyMappedFile(Deno.pid, m, { useMapFiles: false });
    Deno.writeTextFileSync(path, "version 2", { append: true });
    throws(() => openMappedFile(id), /changed/);
  });
});
