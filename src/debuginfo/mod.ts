// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Debuginfo for the Parca server: for each executable mapping with a build ID the server does not
 * know yet, find a separate debug file (`--debuginfo-directories`, `.gnu_debuglink`) or take the
 * binary itself, and upload it through the DebuginfoService, so the server can name native frames.
 *
 * - {@link DebuginfoUploader} is a profile sink: it looks at each profile's mappings and runs one
 *   upload job per unknown build ID in the background.
 * - {@link findDebuginfo} and {@link openMappedBinary} choose and open the file, checking every
 *   candidate by content (build ID or CRC) because its path is chosen by the profiled process.
 * - {@link prepareUpload} strips binaries (`--debuginfo-strip`) and compresses DWARF
 *   (`--debuginfo-compress`) with wasm-unwind in a worker, into an unlinked temp file.
 *
 * @example Finding the file for the agent's own executable
 * ```ts
 * import { findDebuginfo, openMappedBinary } from "./mod.ts";
 * import { ProcessReader } from "../process/mod.ts";
 * const m = new ProcessReader().read(Deno.pid)!.mappings.find((x) => x.path === Deno.execPath())!;
 * const binary = openMappedBinary(Deno.pid, m);
 * if (!binary) throw new Error("cannot open the agent's binary");
 * const debug = findDebuginfo({
 *   root: `/proc/${Deno.pid}/root`,
 *   directories: ["/usr/lib/debug"],
 *   binaryPath: m.path,
 *   buildId: m.buildId,
 *   buildIdKind: "gnu",
 *   binary: binary.file,
 * });
 * const upload = debug ?? binary; // a separate debug file if installed, else the binary
 * console.log(upload.path, upload.how);
 * debug?.file.close();
 * binary.file.close();
 * ```
 *
 * @module
 */

export {
  findDebuginfo,
  type FinderLogger,
  type FindRequest,
  type FoundFile,
  type FoundHow,
  MAX_DEBUGINFO_BYTES,
  openMappedBinary,
} from "./finder.ts";
export {
  DebuginfoUploader,
  FAILURE_BACKOFF_MS,
  MAX_QUEUED_JOBS,
  MAX_STRIP_BYTES,
  type PreparedUpload,
  type PrepareOptions,
  prepareUpload,
  UPLOAD_CHUNK_BYTES,
  type UploaderLogger,
  type UploaderOptions,
} from "./uploader.ts";
