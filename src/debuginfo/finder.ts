// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Finding the file to upload for a build ID: a separate debug file when one is installed, else
 * the binary itself.
 *
 * The paths come partly from the profiled process (its binary's path, its `.gnu_debuglink`) and
 * are looked up inside its root (`/proc/PID/root`), where an absolute symlink resolves against
 * the agent's own root. So a hostile process could point a candidate path at any file of the
 * host, and the agent, running as root, would upload it. Every candidate is therefore checked by
 * content before it is used: it must be a regular ELF file (opened non-blocking, so a FIFO cannot
 * hang the agent) whose GNU build ID is the wanted one, or, for a `.gnu_debuglink` candidate,
 * whose CRC32 is the one the binary names (and whose build ID, when it has one, matches). A host
 * file can only pass by being that very debug file.
 *
 * @module
 */

import { elfBuildId, FileElfSource } from "../process/mod.ts";
import { fileCrc32, readDebuglink } from "./_debuglink.ts";

/** Largest file the agent uploads: the Parca server's default `--debuginfo-upload-max-size`. */
export const MAX_DEBUGINFO_BYTES = 1_000_000_000;

/** How a file was found. */
export type FoundHow = "build-id" | "debuginfo-dir" | "debuglink" | "next-to-binary" | "binary";

/** A file chosen for upload; the caller closes it. */
export interface FoundFile {
  /** The path it was opened at (under /proc/PID/...). */
  path: string;
  /** How it was found. */
  how: FoundHow;
  /** The open file. */
  file: FileElfSource;
}

/** What {@link findDebuginfo} needs to know about one mapping. */
export interface FindRequest {
  /** Root of the process's file system view: `/proc/PID/root`; "" (the agent's root) in tests. */
  root: string;
  /** Debug directories to search, in order (`--debuginfo-directories`). */
  directories: readonly string[];
  /** The binary's path as the process sees it. */
  binaryPath: string;
  /** Lowercase hex build ID. */
  buildId: string;
  /** Kind of build ID: only GNU IDs name files under `.build-id/`. */
  buildIdKind: "gnu" | "go" | "text-hash";
  /** The binary itself, opened, to read its `.gnu_debuglink`. */
  binary: FileElfSource;
}

/** The logger the finder tells about rejected candidates. */
export interface FinderLogger {
  /** Logs at debug level. */
  debug(message: string, properties?: Record<string, unknown>): void;
}

function hasDotDot(path: string): boolean {
  return path.includes("\0") || path.split("/").includes("..");
}

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

function join(...parts: string[]): string {
  return parts.join("/").replace(/\/{2,}/g, "/");
}

/** Opens a candidate if it is a regular ELF file of an uploadable size; undefined otherwise. */
function openCandidate(path: string): FileElfSource | undefined {
  let f: FileElfSource;
  try {
    f = FileElfSource.open(path);
  } catch {
    return undefined;
  }
  const magic = f.readAt(0, 4);
  if (
    f.size > MAX_DEBUGINFO_BYTES || magic.length < 4 || magic[0] !== 0x7f || magic[1] !== 0x45 ||
    magic[2] !== 0x4c || magic[3] !== 0x46
  ) {
    f.close();
    return undefined;
  }
  return f;
}

/**
 * Looks for a separate debug file for a mapping, in Parca Agent's order:
 *
 * 1. `<root><dir>/.build-id/<first 2 hex>/<rest>.debug` for each debug directory (GNU IDs only);
 * 2. `<root><dir>/<build id>/debuginfo`;
 * 3. with a `.gnu_debuglink` naming N: `<root><bindir>/N`, `<root><bindir>/.debug/N`,
 *    `<root><dir><bindir>/N` (GDB's places), accepted only when the CRC32 matches;
 *    without one: `<root><bindir>/<basename>.debug`.
 *
 * Candidates found by build ID must carry that GNU build ID; debuglink candidates must have the
 * CRC and, if they have a GNU build ID, the mapping's. See the module doc for why.
 *
 * @param req The mapping and where to look.
 * @param log Told why candidates were rejected.
 * @returns The debug file, or undefined when none is installed.
 */
export function findDebuginfo(req: FindRequest, log?: FinderLogger): FoundFile | undefined {
  const { root, buildId } = req;
  const gnu = req.buildIdKind === "gnu" && /^[0-9a-f]{4,}$/.test(buildId);
  const sameId = (f: FileElfSource): boolean => {
    const id = elfBuildId(f);
    return id?.kind === "gnu" && id.id === buildId;
  };
  const tryPath = (
    path: string,
    how: FoundHow,
    accept: (f: FileElfSource) => boolean,
  ): FoundFile | undefined => {
    const f = openCandidate(path);
    if (!f) return undefined;
    let ok = false;
    try {
      ok = accept(f);
    } catch (e) {
      log?.debug("cannot read debuginfo candidate", { path, error: (e as Error).message });
    }
    if (ok) return { path, how, file: f };
    log?.debug("debuginfo candidate rejected: build ID or CRC does not match", { path, buildId });
    f.close();
    return undefined;
  };

  for (const dir of req.directories) {
    if (!gnu || hasDotDot(dir)) continue;
    const p = join(root, dir, ".build-id", buildId.slice(0, 2), `${buildId.slice(2)}.debug`);
    const found = tryPath(p, "build-id", sameId);
    if (found) return found;
  }
  for (const dir of req.directories) {
    if (!gnu || hasDotDot(dir)) continue;
    const found = tryPath(join(root, dir, buildId, "debuginfo"), "debuginfo-dir", sameId);
    if (found) return found;
  }

  if (!req.binaryPath.startsWith("/") || hasDotDot(req.binaryPath)) return undefined;
  const bindir = dirname(req.binaryPath);
  let link;
  try {
    link = readDebuglink(req.binary);
  } catch (e) {
    log?.debug("cannot read .gnu_debuglink", { path: req.binaryPath, error: (e as Error).message });
  }
  if (link) {
    const crcMatches = (f: FileElfSource): boolean => {
      if (fileCrc32(f) !== link.crc) return false;
      const id = elfBuildId(f);
      return !(gnu && id?.kind === "gnu" && id.id !== buildId);
    };
    const places = [
      join(root, bindir, link.name),
      join(root, bindir, ".debug", link.name),
      ...req.directories.filter((d) => !hasDotDot(d)).map((d) => join(root, d, bindir, link.name)),
    ];
    for (const p of places) {
      // The binary itself may be named by its own link; it is uploaded as "binary" instead.
      if (p === join(root, req.binaryPath)) continue;
      const found = tryPath(p, "debuglink", crcMatches);
      if (found) return found;
    }
    return undefined;
  }
  if (!gnu) return undefined;
  const base = req.binaryPath.slice(bindir.length + 1);
  return tryPath(join(root, bindir, `${base}.debug`), "next-to-binary", sameId);
}

/**
 * Opens the binary behind a mapping of a live process: first through
 * `/proc/PID/map_files/<start>-<limit>` (the kernel's own reference to the mapped file, immune to
 * path tricks), else `/proc/PID/root/<path>`; either way only if its build ID is the mapping's.
 *
 * @param pid The process.
 * @param mapping Its mapping: address range, path and build ID.
 * @returns The open binary, or undefined when the process or file is gone or is another file.
 */
export function openMappedBinary(
  pid: number,
  mapping: { start: number; limit: number; path: string; buildId: string },
): FoundFile | undefined {
  const candidates = [
    `/proc/${pid}/map_files/${mapping.start.toString(16)}-${mapping.limit.toString(16)}`,
  ];
  if (mapping.path.startsWith("/") && !hasDotDot(mapping.path)) {
    candidates.push(`/proc/${pid}/root${mapping.path}`);
  }
  for (const path of candidates) {
    const f = openCandidate(path);
    if (!f) continue;
    let id;
    try {
      id = elfBuildId(f);
    } catch {
      // unreadable: try the next route
    }
    if (id?.id === mapping.buildId) return { path, how: "binary", file: f };
    f.close();
  }
  return undefined;
}
