// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { closeSafeFile, openRegularFile, readSafeFile } from "./open.ts";

/**
 * Reads one of the agent's own inputs whole: a regular file of at most `maxBytes` (see
 * {@link openRegularFile}). Synchronous and bounded: it cannot block on a FIFO, read a device,
 * or grow without bound.
 *
 * @example
 * ```ts
 * import { readRegularFile } from "./read.ts";
 * console.assert(readRegularFile("/etc/hostname", 4096).length > 0);
 * ```
 *
 * @param path The file.
 * @param maxBytes Larger files are refused.
 * @returns The bytes.
 * @throws {SafeOpenError} When the file is missing, not regular or too large.
 */
export function readRegularFile(path: string, maxBytes: number): Uint8Array {
  const f = openRegularFile(path, maxBytes);
  try {
    return readSafeFile(f);
  } finally {
    closeSafeFile(f);
  }
}

/**
 * {@link readRegularFile} decoded as UTF-8.
 *
 * @param path The file.
 * @param maxBytes Larger files are refused.
 * @returns The text.
 * @throws {SafeOpenError} When the file is missing, not regular or too large.
 */
export function readRegularTextFile(path: string, maxBytes: number): string {
  return new TextDecoder().decode(readRegularFile(path, maxBytes));
}
