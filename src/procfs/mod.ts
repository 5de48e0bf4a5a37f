// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Reads of /proc and /sys through libc over FFI, and the agent's one libc symbol table.
 *
 * Deno 2.9 refuses every read under /proc and /sys to a process without `--allow-all`, whatever
 * `--allow-read` says (denoland/deno#27564). The permission-scoped agent (see src/launcher) has
 * `--allow-ffi` for libbpf and libc, so it reads those files here: the functions have the names,
 * results and error classes of Deno's sync file API (`NotFound`, `PermissionDenied`, ... with
 * `code` set), and {@link openSync} returns a real descriptor that {@link readSync}, {@link read},
 * {@link fstatSync} and {@link closeSync} take with the arguments of `node:fs` (`node:fs` itself
 * refuses descriptors it did not open). Other absolute paths are read the same way, but only
 * where Deno's permission for them is granted, so that a caller can take any path; a temporary
 * file ({@link openTempFileSync}) needs Deno's write permission for its directory.
 * A caller switches by changing an import. `tests/repo_test.ts` fails when code
 * reads /proc or /sys through Deno's file API.
 *
 * Native symbols: libc's live here (./_libc.ts), libbpf's in src/bpf/ffi.ts, and nowhere else.
 * The system calls other modules need are named functions (./sys.ts: openat2 for src/safefs,
 * inotify, the parent-death signal, execve, ...); the raw table, {@link libc}, is for src/bpf.
 *
 * @example Read a process's maps without --allow-all
 * ```ts
 * import * as procfs from "./mod.ts";
 * const maps = procfs.readTextFileSync(`/proc/${Deno.pid}/maps`);
 * console.assert(maps.includes("[stack]"));
 * ```
 *
 * @module
 */

export {
  type BigIntFileStat,
  closeSync,
  errnoError,
  fstatSync,
  lstatSync,
  openSync,
  openTempFileSync,
  read,
  readDirSync,
  readFileSync,
  readLinkSync,
  readSync,
  readTextFileSync,
  statSync,
  writeSync,
} from "./procfs.ts";
export {
  dropPages,
  dupSync,
  execve,
  inotifyAddWatch,
  inotifyInit,
  type MallocOptions,
  niceThisThread,
  openat,
  openat2,
  parentPid,
  readLinkFd,
  setMallocOptions,
  setParentDeathSignal,
  setThreadNice,
  SysError,
  trimMalloc,
} from "./sys.ts";
/**
 * The raw libc table, `errno`, `strerror` and `cstr`: for src/bpf only (bpf(2), perf events,
 * epoll, mmap); every other module calls the named functions above.
 */
export { cstr, errno, libc, LIBC_CANDIDATES, type LibcSymbols, O, strerror } from "./_libc.ts";
