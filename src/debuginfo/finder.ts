// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Finding the file to upload for a build ID: a separate debug file when one is installed, else
 * the binary itself.
 *
 * The paths come partly from the profiled process (its binary's path, its `.gnu_debuglink`, the
 * symlinks in its tree). Each candidate is opened with `openInRoot` (src/safefs): resolved inside
 * the process's root (`/proc/PID/root`) as the process itself would resolve it, so no symlink,
 * `..` or magic link leads to a host file, and checked to be a regular file of an uploadable size
 * before it is opened at all, so no device is opened and no FIFO waited on. Then it is checked by
 * content: an ELF file whose GNU build ID is the wanted one, or, for a `.gnu_debuglink`
 * candidate, whose CRC32 is the one the binary names (and whose build ID, when it has one,
 * matches).
 *
 * @module
 */

import { elfBuildId, FileElfSource } from "../process/mod.ts";
import { openInRoot, openRegularFile, type SafeFile } from "../safefs/mod.ts";
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
  /** Root of the process's file system view: `/proc/PID/root`; "" means the agent's own root. */
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

/** Checks that a safely opened file is ELF; wraps it, or closes it and returns undefined. */
function elfOrClose(f: SafeFile): FileElfSource | undefined {
  const src = new FileElfSource(f.fd, f.size, true);
  const magic = src.readAt(0, 4);
  if (
    magic.length < 4 || magic[0] !== 0x7f || magic[1] !== 0x45 || magic[2] !== 0x4c ||
    magic[3] !== 0x46
  ) {
    src.close();
    return undefined;
  }
  return src;
}

/**
 * Opens a candidate inside the process's root if it is a regular ELF file of an uploadable size
 * (see the module doc); undefined otherwise.
 */
function openCandidate(root: string, path: string): FileElfSource | undefined {
  try {
    return elfOrClose(
      openInRoot(root === "" ? "/" : root, path, { maxBytes: MAX_DEBUGINFO_BYTES }),
    );
  } catch {
    return undefined;
  }
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
    inRoot: string,
    how: FoundHow,
    accept: (f: FileElfSource) => boolean,
  ): FoundFile | undefined => {
    const path = join(root, inRoot);
    const f = openCandidate(root, inRoot);
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
    const p = join(dir, ".build-id", buildId.slice(0, 2), `${buildId.slice(2)}.debug`);
    const found = tryPath(p, "build-id", sameId);
    if (found) return found;
  }
  for (const dir of req.directories) {
    if (!gnu || hasDotDot(dir)) continue;
    const found = tryPath(join(dir, buildId, "debuginfo"), "debuginfo-dir", sameId);
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
      join(bindir, link.name),
      join(bindir, ".debug", link.name),
      ...req.directories.filter((d) => !hasDotDot(d)).map((d) => join(d, bindir, link.name)),
    ];
    for (const p of places) {
      // The binary itself may be named by its own link; it is uploaded as "binary" instead.
      if (p === join(req.binaryPath)) continue;
      const found = tryPath(p, "debuglink", crcMatches);
      if (found) return found;
    }
    return undefined;
  }
  if (!gnu) return undefined;
  const base = req.binaryPath.slice(bindir.length + 1);
  return tryPath(join(bindir, `${base}.debug`), "next-to-binary", sameId);
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
  // map_files is a magic link to the mapped file itself: followed on purpose, but checked to be
  // a regular file before it is opened (a mapped device would otherwise be opened). The
  // fallback path is resolved inside the process's root.
  const candidates: Array<[string, () => SafeFile]> = [];
  const mapFiles = `/proc/${pid}/map_files/${mapping.start.toString(16)}-${
    mapping.limit.toString(16)
  }`;
  candidates.push([mapFiles, () => openRegularFile(mapFiles, MAX_DEBUGINFO_BYTES)]);
  if (mapping.path.startsWith("/") && !hasDotDot(mapping.path)) {
    candidates.push([
      `/proc/${pid}/root${mapping.path}`,
      () => openInRoot(`/proc/${pid}/root`, mapping.path, { maxBytes: MAX_DEBUGINFO_BYTES }),
    ]);
  }
  for (const [path, open] of candidates) {
    let f: FileElfSource | undefined;
    try {
      f = elfOrClose(open());
    } catch {
      f = undefined;
    }
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
