// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import {
  closeSync,
  fstatSync,
  O,
  openat,
  openat2,
  openSync,
  readLinkFd,
  readSync,
  type SysError,
} from "../procfs/mod.ts";

// Descriptors are OS descriptors opened through libc (src/procfs): Deno refuses the reopen
// through /proc/self/fd to the permission-scoped agent's node:fs, and FileElfSource and the
// debuginfo uploader read them with src/procfs's pread.

/** openat2(2) resolve flags. */
const RESOLVE = { NO_MAGICLINKS: 0x02, IN_ROOT: 0x10 } as const;

/** AT_FDCWD. */
const AT_FDCWD = -100;

/** File type bits of st_mode. */
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** The errno values safefs names. */
const E = {
  EPERM: 1,
  ENOENT: 2,
  EACCES: 13,
  EXDEV: 18,
  ENOTDIR: 20,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ELOOP: 40,
} as const;

/** Type and size of an O_PATH descriptor (fstat works on those, Linux 3.6+). */
function fdStat(fd: number): { dev: bigint; ino: bigint; mode: number; size: number } {
  const st = fstatSync(fd);
  return { dev: st.dev, ino: st.ino, mode: Number(st.mode), size: Number(st.size) };
}

/**
 * The system calls here need no Deno permission, so Deno's read permission is checked first for
 * anything outside /proc (where Deno refuses everything to the scoped agent, and the roots of
 * other processes are): the permission scope stays the authority for the agent's own files.
 */
function checkPermission(what: string, path: string): void {
  if (path === "/proc" || path.startsWith("/proc/")) return;
  if (Deno.permissions.querySync({ name: "read", path }).state === "granted") return;
  throw new SafeOpenError(
    what,
    "outside the agent's read permission (see src/launcher)",
    "refused",
  );
}

function close(fd: number): void {
  if (fd >= 0) closeSync(fd);
}

/** A file that could not be opened safely; `reason` is short and stable, for logs and tests. */
export class SafeOpenError extends Error {
  /** `not-found`, `not-regular`, `too-large`, `loop`, `refused` or `error`. */
  readonly reason: "not-found" | "not-regular" | "too-large" | "loop" | "refused" | "error";

  /** The problem alone, without the file: `not a regular file`. */
  readonly detail: string;

  /**
   * @param what What failed, naming the file: `Cannot open "/etc/agent.yaml"`.
   * @param detail The problem: `not a regular file`.
   * @param reason The kind of problem.
   * @param options The system error, if any.
   */
  constructor(
    what: string,
    detail: string,
    reason: SafeOpenError["reason"],
    options?: { cause?: unknown },
  ) {
    super(`${what}: ${detail}`, options);
    this.name = "SafeOpenError";
    this.reason = reason;
    this.detail = detail;
  }
}

/** How paths are resolved inside a root. */
export type Resolver = "openat2" | "walk";

/** Options of {@link openInRoot}. */
export interface OpenInRootOptions {
  /** Larger files are refused before any byte is read. @default {Infinity} */
  maxBytes?: number;
  /** Force a resolver (tests); by default openat2, and the walk where it is missing. */
  resolver?: Resolver;
}

/** A regular file opened read-only by {@link openInRoot} or {@link openRegularFile}. */
export interface SafeFile {
  /**
   * An OS descriptor of the file, opened `O_RDONLY | O_NONBLOCK | O_NOCTTY`: read it with
   * src/procfs's `readSync`/`read` (node:fs refuses descriptors it did not open).
   */
  readonly fd: number;
  /** Size from fstat at open time. */
  readonly size: number;
  /** Device and inode, from fstat. */
  readonly dev: bigint;
  readonly ino: bigint;
}

let openat2Missing = false;
const MAX_SYMLINKS = 40;

/**
 * Opens a file named by another process (a debug link, a build-ID path, a perf map) inside that
 * process's root, as the kernel would resolve it for the process, never outside it.
 *
 * The agent runs as root, and every component of such a path is chosen by the process: a
 * `/usr/lib/debug/.build-id/ab/cdef.debug` that is a symlink to `/etc/shadow` must lead to the
 * process's own `/etc/shadow` (in a chroot or container: its own), never the host's; `..` must
 * stop at the root; a link through `/proc/self/...` (a "magic link", which jumps to wherever the
 * kernel's object is) must be refused. And nothing may be opened before it is known to be a
 * regular file, since opening a device can have side effects and a FIFO blocks.
 *
 * So: the root is opened as an `O_PATH` directory; the path is resolved with
 * `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` to an `O_PATH` descriptor, which opens
 * nothing (no driver's open() runs, no inotify IN_OPEN); fstat on it must say regular file and
 * a size within `maxBytes`; only then is that very inode opened for reading, through
 * `/proc/self/fd/N`, `O_NONBLOCK | O_NOCTTY`, and checked to be the same inode. Where openat2 is
 * missing (kernels before 5.6, or a seccomp filter that refuses it with ENOSYS or EPERM), the
 * path is walked one component at a time with `openat(O_PATH | O_NOFOLLOW)`, symlinks read and
 * re-resolved from the root (absolute) or the current directory (relative), `..` clamped at the
 * root, at most 40 symlinks: the same result.
 *
 * @example
 * ```ts ignore
 * import { openInRoot } from "./mod.ts";
 * const f = openInRoot(`/proc/${pid}/root`, "/usr/lib/debug/.build-id/ab/cdef.debug",
 *   { maxBytes: 1 << 30 });
 * ```
 *
 * @param root The root directory, e.g. `/proc/PID/root` (a magic link the kernel follows to the
 *   process's root) or `/`.
 * @param path An absolute or root-relative path inside it.
 * @param options Size cap and resolver.
 * @returns The open file; close it with {@link closeSafeFile}.
 * @throws {SafeOpenError} When the file is missing, not regular, too large or unsafe to reach.
 */
export function openInRoot(root: string, path: string, options: OpenInRootOptions = {}): SafeFile {
  const where = `"${path}" in ${root}`;
  if (path.includes("\0")) {
    throw new SafeOpenError(`Cannot open ${where}`, `NUL in path`, "refused");
  }
  checkPermission(`Cannot open ${where}`, root === "/" ? path : `${root}/${path}`);
  let rootFd: number;
  try {
    rootFd = openat(AT_FDCWD, root, O.PATH | O.DIRECTORY | O.CLOEXEC);
  } catch (e) {
    throw fromSys(`Cannot open root ${root}`, e);
  }
  let pathFd = -1;
  try {
    const rel = path.replace(/^\/+/, "") || ".";
    const resolver = options.resolver ?? (openat2Missing ? "walk" : "openat2");
    if (resolver === "openat2") {
      try {
        pathFd = openat2(rootFd, rel, O.PATH | O.CLOEXEC, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS);
      } catch (e) {
        const code = (e as SysError).errno;
        // ENOSYS: no openat2; EPERM: a seccomp filter (older container runtimes) refuses it.
        if (options.resolver !== undefined || (code !== E.ENOSYS && code !== E.EPERM)) {
          throw fromSys(`Cannot open ${where}`, e);
        }
        openat2Missing = true;
      }
    }
    if (pathFd < 0) pathFd = walk(rootFd, rel, where);
    return reopenRegular(pathFd, where, options.maxBytes ?? Infinity);
  } finally {
    close(pathFd);
    close(rootFd);
  }
}

/**
 * Opens one of the agent's own inputs (its config file, its token file) after checking that it
 * is a regular file of at most `maxBytes`: a FIFO is refused rather than waited on, `/dev/zero`
 * rather than read forever. Symlinks are followed (a Kubernetes ConfigMap is a chain of them);
 * the check is on what the path finally names, before it is opened for reading.
 *
 * @param path The file.
 * @param maxBytes Larger files are refused.
 * @returns The open file; close it with {@link closeSafeFile}.
 * @throws {SafeOpenError} When it is missing, not a regular file, or too large.
 */
export function openRegularFile(path: string, maxBytes: number): SafeFile {
  checkPermission(`Cannot open "${path}"`, path);
  let fd: number;
  try {
    fd = openat(AT_FDCWD, path, O.PATH | O.CLOEXEC);
  } catch (e) {
    throw fromSys(`Cannot open "${path}"`, e);
  }
  try {
    return reopenRegular(fd, `"${path}"`, maxBytes);
  } finally {
    close(fd);
  }
}

/**
 * Reads a whole file opened by this module.
 *
 * @param f The file.
 * @returns Its bytes (the size seen at open; a file that grew is read up to that size).
 * @throws {Error} On a read error.
 */
export function readSafeFile(f: SafeFile): Uint8Array {
  const buf = new Uint8Array(f.size);
  let got = 0;
  while (got < buf.length) {
    const n = readSync(f.fd, buf, got, buf.length - got, got);
    if (n === 0) break;
    got += n;
  }
  return got === buf.length ? buf : buf.slice(0, got);
}

/**
 * Closes a file opened by this module.
 *
 * @param f The file.
 */
export function closeSafeFile(f: SafeFile): void {
  closeSync(f.fd);
}

function fromSys(what: string, e: unknown): SafeOpenError {
  if (e instanceof SafeOpenError) return e;
  const code = (e as SysError).errno;
  const reason = code === E.ENOENT || code === E.ENOTDIR
    ? "not-found"
    : code === E.ELOOP
    ? "loop"
    : code === E.EXDEV
    ? "refused"
    : "error";
  const words: Record<number, string> = {
    [E.ENOENT]: "no such file or directory",
    [E.ENOTDIR]: "a component of the path is not a directory",
    [E.EACCES]: "permission denied",
    [E.ELOOP]: "too many symlinks, or a link that may not be followed",
    [E.EXDEV]: "the path leads out of the root",
    [E.ENAMETOOLONG]: "path too long",
  };
  const text = words[code] ?? (e as Error).message;
  return new SafeOpenError(what, text, reason, { cause: e });
}

/** Checks an O_PATH descriptor and opens its inode for reading. */
function reopenRegular(pathFd: number, where: string, maxBytes: number): SafeFile {
  let st: ReturnType<typeof fdStat>;
  try {
    st = fdStat(pathFd);
  } catch (e) {
    throw fromSys(`Cannot open ${where}`, e);
  }
  if ((st.mode & S_IFMT) !== S_IFREG) {
    throw new SafeOpenError(`Cannot open ${where}`, `not a regular file`, "not-regular");
  }
  if (st.size > maxBytes) {
    throw new SafeOpenError(
      `Cannot open ${where}`,
      `${st.size} bytes, more than the ${maxBytes} allowed`,
      "too-large",
    );
  }
  // /proc/self/fd/N of an O_PATH descriptor reopens that very inode: no path is walked again.
  let fd: number;
  try {
    fd = openSync(`/proc/self/fd/${pathFd}`, O.RDONLY | O.NONBLOCK | O.NOCTTY);
  } catch (e) {
    throw new SafeOpenError(`Cannot open ${where}`, `${(e as Error).message}`, "error", {
      cause: e,
    });
  }
  try {
    const again = fstatSync(fd);
    if (again.dev !== st.dev || again.ino !== st.ino || !again.isFile()) {
      throw new SafeOpenError(`Cannot open ${where}`, `it changed while being opened`, "refused");
    }
    return { fd, size: Math.min(st.size, Number(again.size)), dev: st.dev, ino: st.ino };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/**
 * Resolves `rel` under `rootFd` component by component, as RESOLVE_IN_ROOT would; returns an
 * O_PATH descriptor of the result (the caller closes it).
 */
function walk(rootFd: number, rel: string, where: string): number {
  // The directories from the root down to the current one; [0] is the root (not owned).
  const stack: number[] = [rootFd];
  const pending = rel.split("/").reverse();
  let links = 0;
  const top = (): number => stack[stack.length - 1];
  const popTo = (n: number): void => {
    while (stack.length > n) close(stack.pop()!);
  };
  try {
    while (pending.length > 0) {
      const name = pending.pop()!;
      if (name === "" || name === ".") continue;
      if (name === "..") {
        if (stack.length > 1) close(stack.pop()!); // At the root, ".." is the root.
        continue;
      }
      let fd: number;
      try {
        fd = openat(top(), name, O.PATH | O.NOFOLLOW | O.CLOEXEC);
      } catch (e) {
        throw fromSys(`Cannot open ${where}`, e);
      }
      const mode = fdStat(fd).mode & S_IFMT;
      if (mode === S_IFLNK) {
        // A magic link (/proc/self/root...) reads as the text of where it points and is then
        // resolved inside the root, like any symlink: it cannot jump out.
        let target: string;
        try {
          target = readLinkFd(fd);
        } finally {
          close(fd);
        }
        if (++links > MAX_SYMLINKS) {
          throw new SafeOpenError(`Cannot open ${where}`, `too many symlinks`, "loop");
        }
        if (target.startsWith("/")) popTo(1);
        pending.push(...target.split("/").reverse());
        continue;
      }
      if (pending.some((p) => p !== "" && p !== ".") && mode !== S_IFDIR) {
        close(fd);
        throw new SafeOpenError(`Cannot open ${where}`, `not a directory on the way`, "not-found");
      }
      stack.push(fd);
    }
    if (stack.length === 1) {
      // The path named the root itself: hand back a descriptor of our own.
      return openat(rootFd, ".", O.PATH | O.CLOEXEC);
    }
    const result = stack.pop()!;
    return result;
  } finally {
    popTo(1);
  }
}
