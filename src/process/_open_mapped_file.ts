// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Opening the files that other processes map, safely.
//
// The agent runs as root, and the paths in /proc/PID/maps are chosen by the profiled process and
// are relative to its mount namespace. Opening them naively lets a process make the agent read
// (and later upload as "debuginfo") any file, e.g. by swapping a path component for a symlink
// after mapping the real file, or hang the agent on a FIFO. So:
//
// 1. First choice: /proc/PID/map_files/<start>-<end>. It is a magic link to the very file behind
//    the mapping (the kernel's own reference, `vma->vm_file`), so no path is walked, symlinks in
//    the process's tree play no part, and it works for deleted and memfd files. It needs
//    CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE), which the agent has. Only the inode is checked
//    against maps, to notice that the range was remapped since maps was read: the device cannot be
//    compared because btrfs reports per-subvolume devices in stat but the superblock's in maps.
// 2. Fallback (no map_files, e.g. missing capability): /proc/PID/root/<path>, which walks the
//    path inside the process's root. Absolute symlinks met on the way resolve against the agent's
//    root, so the walk can land anywhere; paths with `..` are refused outright and the file found
//    must have the device and inode that maps names, or it is not read. On overlayfs and btrfs
//    the device may legitimately differ, and then this route fails closed. Deleted files are not
//    tried: their path names another file or nothing.
//
// Both routes stat first (which cannot block on a FIFO) so that a cache hit costs one syscall,
// then open with O_NONBLOCK and check with fstat that the open file is the one that was stat'ed.
//
// Not handled: a FUSE-backed file can still stall stat or read for as long as its server wants.

import { type BigIntFileStat as BigIntStats, fstatSync, statSync } from "../procfs/mod.ts";
import { openInRoot } from "../safefs/mod.ts";
import { FileElfSource } from "./elf_source.ts";
import type { ProcMapping } from "./maps.ts";

/** How a mapped file was reached. */
export type MappedFileRoute = "map_files" | "root";

/** A mapped file found and checked, not yet opened. */
export interface MappedFileIdentity {
  /** The path that was stat'ed and is to be opened. */
  path: string;
  route: MappedFileRoute;
  stat: BigIntStats;
  /** Cache key: device from maps, inode, size and mtime, so a rewritten file gets a new entry. */
  key: string;
}

/** Options of {@link identifyMappedFile}; for tests. */
export interface IdentifyOptions {
  /** Try map_files first. @default true */
  useMapFiles?: boolean;
}

/**
 * Converts the `major:minor` of maps to the `st_dev` encoding of stat (glibc's `makedev`).
 *
 * @param dev Hex `major:minor`, e.g. `fe:01`.
 * @returns The device number, or undefined if malformed.
 */
export function devFromMaps(dev: string): bigint | undefined {
  const m = /^([0-9a-f]+):([0-9a-f]+)$/.exec(dev);
  if (!m) return undefined;
  const major = BigInt(`0x${m[1]}`);
  const minor = BigInt(`0x${m[2]}`);
  return ((major & 0xfffff000n) << 32n) | ((major & 0xfffn) << 8n) |
    ((minor & 0xffffff00n) << 12n) | (minor & 0xffn);
}

/**
 * The name of a mapping's entry in /proc/PID/map_files: `%lx-%lx`, lowercase hex, no `0x`.
 *
 * @param m The mapping.
 * @returns For example `7f1c2a000000-7f1c2a021000`.
 */
export function mapFilesName(m: Pick<ProcMapping, "start" | "limit">): string {
  return `${m.start.toString(16)}-${m.limit.toString(16)}`;
}

/**
 * Whether a maps path may be walked under /proc/PID/root: absolute, with no `..` component.
 *
 * @param path A path from maps.
 * @returns True if it may be tried.
 */
export function isSafeRootPath(path: string): boolean {
  return path.startsWith("/") && !path.includes("\0") && !path.split("/").includes("..");
}

function sameInode(st: BigIntStats, m: ProcMapping): boolean {
  // maps prints the inode in decimal; past 2^53 both sides round the same way to a double.
  return Number(st.ino) === m.inode;
}

/**
 * Finds and checks the file behind a file-backed mapping, without opening it.
 *
 * @param pid The process.
 * @param m One of its mappings with a path starting with "/".
 * @param options For tests.
 * @returns The identity to cache by and to open.
 * @throws {Error} With the reason of each route, when no route gives the mapped file.
 */
export function identifyMappedFile(
  pid: number,
  m: ProcMapping,
  options: IdentifyOptions = {},
): MappedFileIdentity {
  const reasons: string[] = [];
  if (options.useMapFiles ?? true) {
    const path = `/proc/${pid}/map_files/${mapFilesName(m)}`;
    try {
      const stat = statSync(path, { bigint: true });
      if (!stat.isFile()) reasons.push(`${path}: not a regular file`);
      else if (!sameInode(stat, m)) reasons.push(`${path}: inode ${stat.ino} is not ${m.inode}`);
      else return { path, route: "map_files", stat, key: keyOf(m, stat) };
    } catch (e) {
      reasons.push(`${path}: ${(e as Error).message}`);
    }
  }
  if (m.deleted) {
    reasons.push("file deleted, no path to fall back to");
  } else if (!isSafeRootPath(m.path)) {
    reasons.push(`refusing path "${m.path}"`);
  } else {
    const path = `/proc/${pid}/root${m.path}`;
    try {
      const stat = statSync(path, { bigint: true });
      const dev = devFromMaps(m.dev);
      if (!stat.isFile()) reasons.push(`${path}: not a regular file`);
      else if (!sameInode(stat, m) || stat.dev !== dev) {
        reasons.push(`${path}: device/inode ${stat.dev}/${stat.ino} are not ${dev}/${m.inode}`);
      } else return { path, route: "root", stat, key: keyOf(m, stat) };
    } catch (e) {
      reasons.push(`${path}: ${(e as Error).message}`);
    }
  }
  throw new Error(`Cannot find mapped file "${m.path}" of process ${pid}: ${reasons.join("; ")}`);
}

/**
 * Opens `/proc/PID/root/<path>` the safe way (src/safefs): resolved inside the process's root,
 * checked to be a regular file before it is opened, never a device or a FIFO. The map_files
 * route needs none of this: the kernel hands over the mapped file itself.
 */
function openUnderRoot(path: string): FileElfSource {
  const m = /^(\/proc\/\d+\/root)(\/.*)$/.exec(path);
  if (!m) throw new Error(`Cannot open "${path}": not under /proc/PID/root`);
  const f = openInRoot(m[1], m[2]);
  return new FileElfSource(f.fd, f.size, true);
}

function keyOf(m: ProcMapping, st: BigIntStats): string {
  return `${m.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
}

/**
 * Opens an identified file and checks that it is still the file that was stat'ed.
 *
 * @param id From {@link identifyMappedFile}.
 * @returns An open source; the caller closes it.
 * @throws {Error} When opening fails or the file changed in between.
 */
export function openMappedFile(id: MappedFileIdentity): FileElfSource {
  const src = id.route === "root" ? openUnderRoot(id.path) : FileElfSource.open(id.path);
  try {
    const st = fstatSync(src.fd, { bigint: true });
    const was = id.stat;
    if (
      st.dev !== was.dev || st.ino !== was.ino || st.size !== was.size ||
      st.mtimeNs !== was.mtimeNs
    ) {
      throw new Error(`Cannot open mapped file "${id.path}": it changed since it was checked`);
    }
    return src;
  } catch (e) {
    src.close();
    throw e;
  }
}
