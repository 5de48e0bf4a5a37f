// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Opening files the agent does not control, safely.
 *
 * - {@link openInRoot}: a file named by a profiled process (a `.gnu_debuglink`, a build-ID path
 *   under `--debuginfo-directories`, a perf map), resolved inside that process's root with
 *   `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` (or an equivalent walk where openat2 is
 *   missing), so no symlink, `..` or magic link leads out of it; checked with fstat on an
 *   `O_PATH` descriptor to be a regular file within a size cap before it is opened at all, then
 *   opened `O_NONBLOCK | O_NOCTTY`. No device is ever opened, no FIFO waited on.
 * - {@link openRegularFile} / {@link readRegularFile}: the agent's own inputs (config file,
 *   token file), with the same regular-file check and size cap (symlinks followed).
 *
 * Descriptors are OS descriptors opened through libc (src/procfs), read with src/procfs's
 * `readSync`/`read` as FileElfSource does: the scoped agent's `node:fs` may not reopen through
 * `/proc/self/fd`, and refuses descriptors it did not open. Outside `/proc`, Deno's read
 * permission for the path is still required, so the permission scope stays the authority.
 *
 * @example Reading a process's file inside its root
 * ```ts
 * import { closeSafeFile, openInRoot, readSafeFile } from "./mod.ts";
 * const f = openInRoot(`/proc/${Deno.pid}/root`, "/etc/hostname", { maxBytes: 4096 });
 * try {
 *   console.assert(readSafeFile(f).length === f.size);
 * } finally {
 *   closeSafeFile(f);
 * }
 * ```
 *
 * @module
 */

export {
  closeSafeFile,
  openInRoot,
  type OpenInRootOptions,
  openRegularFile,
  readSafeFile,
  type Resolver,
  type SafeFile,
  SafeOpenError,
} from "./open.ts";
export { readRegularFile, readRegularTextFile } from "./read.ts";
