// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Reads of /proc and /sys through libc, with the names, results and errors of Deno's sync file
 * API (and, for descriptors, of `node:fs`), so that a caller switches by changing an import.
 *
 * @module
 */

import { cstr, errno, libc, O, STATX, strerror } from "./_libc.ts";

const decoder = new TextDecoder();

/** The roots this module reads under without asking Deno: Deno refuses them to --allow-read. */
const ROOTS = ["/proc", "/sys"];

function underRoots(path: string): boolean {
  return ROOTS.some((r) => path === r || path.startsWith(r + "/"));
}

/**
 * Paths under /proc and /sys are read through libc. Any other path is read only when Deno's own
 * permission would allow it (`--allow-read` for it), so the permission scope stays the one
 * authority for everything else.
 */
function checkPath(op: string, path: string, access: "read" | "write" = "read"): void {
  if (!path.startsWith("/") || path.split("/").includes("..")) {
    throw new TypeError(`Cannot ${op} "${path}": procfs takes absolute paths without ".."`);
  }
  if (access === "read" && underRoots(path)) return;
  if (Deno.permissions.querySync({ name: access, path }).state !== "granted") {
    throw new Deno.errors.NotCapable(
      `Requires ${access} access to "${path}", run again with the --allow-${access} flag`,
    );
  }
}

// Deno's error classes by errno (deno_core's mapping of std::io::ErrorKind), so callers keep
// their `instanceof Deno.errors.NotFound` tests.
const ERROR_CLASSES: Record<number, new (message: string) => Error> = {
  1: Deno.errors.PermissionDenied, // EPERM
  2: Deno.errors.NotFound, // ENOENT
  4: Deno.errors.Interrupted, // EINTR
  13: Deno.errors.PermissionDenied, // EACCES
  16: Deno.errors.Busy, // EBUSY
  17: Deno.errors.AlreadyExists, // EEXIST
  20: Deno.errors.NotADirectory, // ENOTDIR
  21: Deno.errors.IsADirectory, // EISDIR
  22: TypeError, // EINVAL (InvalidInput)
  40: Deno.errors.FilesystemLoop, // ELOOP
  95: Deno.errors.NotSupported, // EOPNOTSUPP
};

const ERRNO_CODES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  16: "EBUSY",
  17: "EEXIST",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  24: "EMFILE",
  36: "ENAMETOOLONG",
  40: "ELOOP",
  95: "EOPNOTSUPP",
};

/**
 * The error Deno's file API throws for an errno, with `node:fs`'s code in front and in `code`:
 * `NotFound: ENOENT: No such file or directory (os error 2): open '/proc/1/x'`.
 *
 * @param code The errno value.
 * @param op The operation, in Deno's words (`open`, `readlink`, `stat`, `readdir`, `read`).
 * @param path The path it was about.
 * @returns The error, to throw.
 */
export function errnoError(code: number, op: string, path: string): Error {
  const Class = ERROR_CLASSES[code] ?? Error;
  const name = ERRNO_CODES[code] ?? `E${code}`;
  // Deno's words with node:fs's code in front, so that callers matching either still match.
  const e = new Class(`${name}: ${strerror(code)} (os error ${code}): ${op} '${path}'`) as Error & {
    code?: string;
    errno?: number;
  };
  e.code = name;
  e.errno = code;
  return e;
}

function openFd(op: string, path: string, flags: number): number {
  if ((flags & O.ACCMODE) !== O.RDONLY || (flags & (O.CREAT | O.TRUNC | O.APPEND)) !== 0) {
    throw new TypeError(`Cannot ${op} "${path}": procfs opens files read-only`);
  }
  checkPath(op, path);
  const fd = libc().open(cstr(path), flags | O.CLOEXEC, 0);
  if (fd < 0) throw errnoError(errno(), "open", path);
  return fd;
}

/**
 * Opens a file under /proc or /sys read-only and returns its descriptor, like `node:fs`
 * `openSync`. Deno's `node:fs` numbers are its own resource ids, not descriptors, so read, stat
 * and close it with this module's {@link readSync}, {@link read}, {@link fstatSync} and
 * {@link closeSync}, which take the same arguments as `node:fs`. `O_CLOEXEC` is always added.
 *
 * @param path An absolute path under /proc or /sys.
 * @param flags open(2) flags, e.g. `constants.O_RDONLY | constants.O_NONBLOCK` from `node:fs`.
 * @returns The descriptor; the caller closes it.
 * @throws {Deno.errors.NotFound} And the other classes Deno uses, by errno.
 *
 * @example Read a pid's stat line
 * ```ts
 * import { closeSync, openSync, readSync } from "./procfs.ts";
 * const fd = openSync(`/proc/${Deno.pid}/stat`);
 * const buf = new Uint8Array(4096);
 * const n = readSync(fd, buf);
 * closeSync(fd);
 * console.assert(new TextDecoder().decode(buf.subarray(0, n)).startsWith(`${Deno.pid} (`));
 * ```
 */
export function openSync(path: string, flags: number = O.RDONLY): number {
  return openFd("open", path, flags);
}

/**
 * Closes a descriptor from {@link openSync}; closing one twice is a no-op for the caller to
 * avoid (the number may be reused).
 *
 * @param fd The descriptor.
 */
export function closeSync(fd: number): void {
  libc().close(fd);
}

/**
 * Creates an unnamed temporary file in `dir` (O_TMPFILE: it never has a name, so nothing is left
 * behind even if the agent dies), readable and writable, mode 0600. Deno's write permission for
 * `dir` is required. Falls back to a file that is created and unlinked at once where the file
 * system has no O_TMPFILE.
 *
 * @param dir An existing directory.
 * @returns The descriptor, for {@link writeSync}, {@link readSync}, {@link read}, {@link closeSync}.
 * @throws {Deno.errors.NotCapable} Without write permission for `dir`.
 */
export function openTempFileSync(dir: string): number {
  checkPath("open", dir, "write");
  const fd = libc().open(cstr(dir), O.TMPFILE | O.RDWR | O.CLOEXEC, 0o600);
  if (fd >= 0) return fd;
  const code = errno();
  if (code !== 95 && code !== 21 && code !== 22) throw errnoError(code, "open", dir);
  const path = `${dir}/parca-agent-${crypto.randomUUID()}`;
  const p = cstr(path);
  const named = libc().open(p, O.RDWR | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC, 0o600);
  if (named < 0) throw errnoError(errno(), "open", path);
  libc().unlink(p);
  return named;
}

/**
 * Writes to a descriptor of {@link openTempFileSync} at `position`, like `node:fs` `writeSync`.
 *
 * @param fd The descriptor.
 * @param buffer The bytes.
 * @param offset Where in `buffer`.
 * @param length How many bytes at most.
 * @param position File offset.
 * @returns The bytes written.
 * @throws {Error} On I/O errors (EINTR is retried).
 */
export function writeSync(
  fd: number,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
): number {
  checkRange(buffer, offset, length);
  for (;;) {
    const n = Number(
      libc().pwrite(fd, buffer.subarray(offset, offset + length), BigInt(length), BigInt(position)),
    );
    if (n >= 0) return n;
    const code = errno();
    if (code !== 4) throw errnoError(code, "write", `fd ${fd}`);
  }
}

function checkRange(buffer: Uint8Array, offset: number, length: number): void {
  if (!(offset >= 0 && length >= 0 && offset + length <= buffer.length)) {
    throw new RangeError(
      `Cannot read into buffer: offset ${offset} + length ${length} exceeds ${buffer.length}`,
    );
  }
}

/**
 * Reads from a descriptor of {@link openSync} into `buffer`, like `node:fs` `readSync`: at the
 * file position, or at `position` without moving it (pread).
 *
 * @param fd The descriptor.
 * @param buffer Where the bytes go.
 * @param offset Where in `buffer`. @default 0
 * @param length How many bytes at most. @default buffer.length - offset
 * @param position File offset, or null for the current position. @default null
 * @returns The bytes read; 0 at end of file.
 * @throws {Error} On I/O errors (EINTR is retried).
 */
export function readSync(
  fd: number,
  buffer: Uint8Array,
  offset = 0,
  length: number = buffer.length - offset,
  position: number | bigint | null = null,
): number {
  checkRange(buffer, offset, length);
  const target = buffer.subarray(offset, offset + length);
  for (;;) {
    const n = Number(
      position === null
        ? libc().read(fd, target, BigInt(length))
        : libc().pread(fd, target, BigInt(length), BigInt(position)),
    );
    if (n >= 0) return n;
    const code = errno();
    if (code !== 4) throw errnoError(code, "read", `fd ${fd}`);
  }
}

/**
 * Reads at `position` on one of Deno's blocking-pool threads, like `node:fs` `read` promisified:
 * for large files (debuginfo uploads) whose reads must not stall the event loop. `buffer` must
 * not be touched until the promise settles.
 *
 * @param fd The descriptor.
 * @param buffer Where the bytes go.
 * @param offset Where in `buffer`.
 * @param length How many bytes at most.
 * @param position File offset.
 * @returns The bytes read; 0 at end of file.
 * @throws {Error} On I/O errors.
 */
export async function read(
  fd: number,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number | bigint,
): Promise<number> {
  checkRange(buffer, offset, length);
  const target = buffer.subarray(offset, offset + length);
  const n = Number(await libc().preadAsync(fd, target, BigInt(length), BigInt(position)));
  if (n >= 0) return n;
  // errno belongs to the pool thread the call ran on and cannot be read here, so the read is
  // repeated synchronously to learn why (or to succeed after an EINTR); failures are rare.
  return readSync(fd, buffer, offset, length, position);
}

/**
 * Reads a whole file under /proc or /sys, which report a size of 0 and are read until EOF.
 *
 * @param path An absolute path under /proc or /sys.
 * @param maxBytes Read at most this many bytes (the rest is left unread): for files another
 *   process controls the size of, such as `/proc/PID/cmdline`.
 * @returns The bytes.
 * @throws {Deno.errors.NotFound} And the other classes Deno uses, by errno.
 *
 * @example The online CPUs
 * ```ts
 * import { readFileSync } from "./procfs.ts";
 * const text = new TextDecoder().decode(readFileSync("/sys/devices/system/cpu/online"));
 * console.assert(/^\d/.test(text));
 * ```
 */
export function readFileSync(path: string, maxBytes = Infinity): Uint8Array<ArrayBuffer> {
  const fd = openFd("readfile", path, O.RDONLY | O.NOCTTY);
  try {
    let buf = new Uint8Array(Math.min(16384, maxBytes));
    let len = 0;
    for (;;) {
      if (len >= maxBytes) return buf.slice(0, len);
      if (len === buf.length) {
        const bigger = new Uint8Array(Math.min(buf.length * 2, maxBytes));
        bigger.set(buf);
        buf = bigger;
      }
      const n = Number(libc().read(fd, buf.subarray(len), BigInt(buf.length - len)));
      if (n < 0) {
        const code = errno();
        if (code === 4) continue; // EINTR
        throw errnoError(code, "read", path);
      }
      if (n === 0) return buf.slice(0, len);
      len += n;
    }
  } finally {
    libc().close(fd);
  }
}

/**
 * Reads a whole file under /proc or /sys as UTF-8.
 *
 * @param path An absolute path under /proc or /sys.
 * @returns The text.
 * @throws {Deno.errors.NotFound} And the other classes Deno uses, by errno.
 *
 * @example This process's name
 * ```ts
 * import { readTextFileSync } from "./procfs.ts";
 * console.assert(readTextFileSync("/proc/self/comm").length > 0);
 * ```
 */
export function readTextFileSync(path: string): string {
  return decoder.decode(readFileSync(path));
}

/**
 * Reads a symbolic link under /proc or /sys (`/proc/PID/exe`, `/proc/PID/fd/N`, ...).
 *
 * @param path An absolute path under /proc or /sys.
 * @returns The link's target.
 * @throws {Deno.errors.NotFound} And the other classes Deno uses, by errno.
 *
 * @example This process's executable
 * ```ts
 * import { readLinkSync } from "./procfs.ts";
 * console.assert(readLinkSync("/proc/self/exe") === Deno.execPath());
 * ```
 */
export function readLinkSync(path: string): string {
  checkPath("readlink", path);
  const p = cstr(path);
  for (let size = 4096;; size *= 2) {
    const buf = new Uint8Array(size);
    const n = Number(libc().readlink(p, buf, BigInt(size)));
    if (n < 0) throw errnoError(errno(), "readlink", path);
    // A result that fills the buffer may have been cut: try again with a bigger one.
    if (n < size) return decoder.decode(buf.subarray(0, n));
    if (size >= 1 << 20) throw errnoError(36, "readlink", path);
  }
}

// d_type values of linux_dirent64.
const DT_DIR = 4;
const DT_REG = 8;
const DT_LNK = 10;

/**
 * Lists a directory under /proc or /sys (`/proc`, `/proc/PID/task`, `/proc/self/fd`), without
 * `.` and `..`, like `Deno.readDirSync`.
 *
 * @param path An absolute path under /proc or /sys.
 * @returns The entries, in the kernel's order.
 * @throws {Deno.errors.NotFound} And the other classes Deno uses, by errno.
 *
 * @example This process's threads
 * ```ts
 * import { readDirSync } from "./procfs.ts";
 * const tids = readDirSync("/proc/self/task").map((e) => Number(e.name));
 * console.assert(tids.includes(Deno.pid));
 * ```
 */
export function readDirSync(path: string): Deno.DirEntry[] {
  const fd = openFd("readdir", path, O.RDONLY | O.DIRECTORY);
  try {
    const entries: Deno.DirEntry[] = [];
    const buf = new Uint8Array(32768);
    const view = new DataView(buf.buffer);
    for (;;) {
      const n = Number(libc().getdents64(fd, buf, BigInt(buf.length)));
      if (n < 0) throw errnoError(errno(), "readdir", path);
      if (n === 0) return entries;
      // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
      for (let off = 0; off < n;) {
        const reclen = view.getUint16(off + 16, true);
        const type = buf[off + 18];
        const nameStart = off + 19;
        let nameEnd = nameStart;
        while (nameEnd < off + reclen && buf[nameEnd] !== 0) nameEnd++;
        const name = decoder.decode(buf.subarray(nameStart, nameEnd));
        if (name !== "." && name !== "..") {
          entries.push({
            name,
            isFile: type === DT_REG,
            isDirectory: type === DT_DIR,
            isSymlink: type === DT_LNK,
          });
        }
        off += reclen;
      }
    }
  } finally {
    libc().close(fd);
  }
}

/**
 * What {@link statSync} returns with `{ bigint: true }`: the fields of `node:fs` `BigIntStats`
 * that the agent compares (exact 64-bit device and inode numbers, nanosecond times), with the
 * same encodings. Times are exact nanoseconds, where Deno's `node:fs` rounds them to
 * milliseconds: compare a {@link statSync} result with {@link fstatSync}, never with `node:fs`.
 */
export interface BigIntFileStat {
  dev: bigint;
  ino: bigint;
  mode: bigint;
  nlink: bigint;
  uid: bigint;
  gid: bigint;
  rdev: bigint;
  size: bigint;
  blksize: bigint;
  blocks: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isSocket(): boolean;
  isFIFO(): boolean;
}

const S_IFMT = 0o170000;

/** glibc's makedev: the st_dev encoding of stat(2) and of `node:fs`. */
function makedev(major: bigint, minor: bigint): bigint {
  return ((major & 0xfffff000n) << 32n) | ((major & 0xfffn) << 8n) |
    ((minor & 0xffffff00n) << 12n) | (minor & 0xffn);
}

function statxRaw(op: string, path: string, flags: number): DataView {
  checkPath(op, path);
  const buf = new Uint8Array(STATX.SIZE);
  const r = libc().statx(STATX.AT_FDCWD, cstr(path), flags, STATX.BASIC_STATS, buf);
  if (r < 0) throw errnoError(errno(), op, path);
  return new DataView(buf.buffer);
}

const EMPTY_PATH = new Uint8Array(1);

/**
 * Stats a descriptor of {@link openSync}, like `node:fs` `fstatSync(fd, { bigint: true })`.
 *
 * @param fd The descriptor.
 * @param _options `{ bigint: true }`, as `node:fs` callers pass it; the result is always exact.
 * @returns Its device, inode, size, times and type.
 * @throws {Error} EBADF for a closed descriptor.
 */
export function fstatSync(fd: number, _options?: { bigint: true }): BigIntFileStat {
  const buf = new Uint8Array(STATX.SIZE);
  const r = libc().statx(fd, EMPTY_PATH, STATX.AT_EMPTY_PATH, STATX.BASIC_STATS, buf);
  if (r < 0) throw errnoError(errno(), "fstat", `fd ${fd}`);
  return toBigIntStat(new DataView(buf.buffer));
}

// struct statx offsets (include/uapi/linux/stat.h).
function toBigIntStat(v: DataView): BigIntFileStat {
  const mode = BigInt(v.getUint16(28, true));
  const fmt = Number(mode) & S_IFMT;
  const ns = (off: number) =>
    v.getBigInt64(off, true) * 1_000_000_000n + BigInt(v.getUint32(off + 8, true));
  return {
    dev: makedev(BigInt(v.getUint32(136, true)), BigInt(v.getUint32(140, true))),
    ino: v.getBigUint64(32, true),
    mode,
    nlink: BigInt(v.getUint32(16, true)),
    uid: BigInt(v.getUint32(20, true)),
    gid: BigInt(v.getUint32(24, true)),
    rdev: makedev(BigInt(v.getUint32(128, true)), BigInt(v.getUint32(132, true))),
    size: v.getBigUint64(40, true),
    blksize: BigInt(v.getUint32(4, true)),
    blocks: v.getBigUint64(48, true),
    mtimeNs: ns(112),
    ctimeNs: ns(96),
    isFile: () => fmt === 0o100000,
    isDirectory: () => fmt === 0o040000,
    isSymbolicLink: () => fmt === 0o120000,
    isSocket: () => fmt === 0o140000,
    isFIFO: () => fmt === 0o010000,
  };
}

function toFileInfo(s: BigIntFileStat, v: DataView): Deno.FileInfo {
  const time = (off: number) =>
    new Date(
      Number(v.getBigInt64(off, true)) * 1000 + Math.floor(v.getUint32(off + 8, true) / 1e6),
    );
  const fmt = Number(s.mode) & S_IFMT;
  return {
    isFile: s.isFile(),
    isDirectory: s.isDirectory(),
    isSymlink: s.isSymbolicLink(),
    isBlockDevice: fmt === 0o060000,
    isCharDevice: fmt === 0o020000,
    isFifo: s.isFIFO(),
    isSocket: s.isSocket(),
    size: Number(s.size),
    mtime: time(112),
    atime: time(64),
    birthtime: null,
    ctime: time(96),
    dev: Number(s.dev),
    ino: Number(s.ino),
    mode: Number(s.mode),
    nlink: Number(s.nlink),
    uid: Number(s.uid),
    gid: Number(s.gid),
    rdev: Number(s.rdev),
    blksize: Number(s.blksize),
    blocks: Number(s.blocks),
  };
}

/**
 * Stats a path under /proc or /sys, following symlinks: like `Deno.statSync`, or with
 * `{ bigint: true }` like `node:fs` `statSync(path, { bigint: true })`.
 *
 * @param path An absolute path under /proc or /sys.
 * @param options `{ bigint: true }` for exact device and inode numbers.
 * @returns Deno's `FileInfo`, or a {@link BigIntFileStat}.
 * @throws {Deno.errors.NotFound} And the other classes Deno uses, by errno.
 *
 * @example Whether a process exists
 * ```ts
 * import { statSync } from "./procfs.ts";
 * console.assert(statSync(`/proc/${Deno.pid}`).isDirectory);
 * ```
 */
export function statSync(path: string): Deno.FileInfo;
export function statSync(path: string, options: { bigint: true }): BigIntFileStat;
export function statSync(path: string, options?: { bigint: true }): Deno.FileInfo | BigIntFileStat {
  const v = statxRaw("stat", path, 0);
  const s = toBigIntStat(v);
  return options?.bigint ? s : toFileInfo(s, v);
}

/**
 * Like {@link statSync}, without following a final symlink (`Deno.lstatSync`).
 *
 * @param path An absolute path under /proc or /sys.
 * @returns Deno's `FileInfo`.
 * @throws {Deno.errors.NotFound} And the other classes Deno uses, by errno.
 *
 * @example A magic link
 * ```ts
 * import { lstatSync } from "./procfs.ts";
 * console.assert(lstatSync("/proc/self/exe").isSymlink);
 * ```
 */
export function lstatSync(path: string): Deno.FileInfo {
  const v = statxRaw("lstat", path, STATX.AT_SYMLINK_NOFOLLOW);
  return toFileInfo(toBigIntStat(v), v);
}
