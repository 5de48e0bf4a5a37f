// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { constants } from "node:fs";
import { closeSync, fstatSync, openSync, readSync } from "../procfs/mod.ts";

/**
 * Random access to the bytes of an ELF file.
 *
 * The ELF reader asks only for the few ranges it needs (headers, note and name tables, `.text` in
 * chunks), so a 100 MB binary costs a handful of small reads.
 */
export interface ElfSource {
  /** Size of the file in bytes. */
  readonly size: number;
  /**
   * Reads bytes at a position.
   *
   * @param offset Byte offset from the start of the file.
   * @param length Number of bytes wanted.
   * @returns The bytes; shorter than `length` (maybe empty) when the range runs past the end.
   */
  readAt(offset: number, length: number): Uint8Array;
}

/**
 * An {@link ElfSource} over bytes already in memory (tests, or a file read whole).
 *
 * @example Wrap bytes
 * ```ts
 * import { BytesElfSource } from "./elf_source.ts";
 * const src = new BytesElfSource(new Uint8Array([0x7f, 0x45, 0x4c, 0x46]));
 * if (src.readAt(1, 10).length !== 3) throw new Error("unexpected");
 * ```
 */
export class BytesElfSource implements ElfSource {
  readonly #bytes: Uint8Array;

  /**
   * Wraps bytes without copying them.
   *
   * @param bytes The whole file.
   */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** Size of the bytes. */
  get size(): number {
    return this.#bytes.length;
  }

  /**
   * Returns a view of the bytes in range, clamped to the end.
   *
   * @param offset Byte offset.
   * @param length Number of bytes wanted.
   * @returns A view (not a copy) of at most `length` bytes.
   */
  readAt(offset: number, length: number): Uint8Array {
    if (!(offset >= 0) || !(length > 0) || offset >= this.#bytes.length) return new Uint8Array(0);
    return this.#bytes.subarray(offset, Math.min(this.#bytes.length, offset + length));
  }
}

/**
 * An {@link ElfSource} over an open file descriptor, read with positional reads (pread).
 *
 * It is built on `node:fs` rather than `Deno.FsFile` because opening must pass `O_NONBLOCK` (a
 * path taken from another process may name a FIFO, and a blocking open would hang the agent) and
 * because `fstat` must give exact 64-bit inode numbers (`bigint`) for the identity checks of the
 * process reader. Reads never move a shared file position.
 *
 * @example Read the ELF magic of the running binary
 * ```ts
 * import { FileElfSource } from "./elf_source.ts";
 * using src = FileElfSource.open(Deno.execPath());
 * const magic = src.readAt(0, 4);
 * if (magic[1] !== 0x45) throw new Error("not ELF");
 * ```
 */
export class FileElfSource implements ElfSource, Disposable {
  #fd: number;
  readonly #owned: boolean;
  /** Size of the file when it was opened (reads past it return short). */
  readonly size: number;

  /**
   * Wraps an open descriptor.
   *
   * @param fd An open, readable file descriptor.
   * @param size Size of the file, from fstat.
   * @param owned Whether {@link FileElfSource.close} closes `fd`.
   */
  constructor(fd: number, size: number, owned = false) {
    this.#fd = fd;
    this.size = size;
    this.#owned = owned;
  }

  /**
   * Opens a regular file read-only and without blocking on FIFOs or devices.
   *
   * @param path The file to open.
   * @returns A source that owns the descriptor; close it (or `using` it) when done.
   * @throws {Error} When the file cannot be opened or is not a regular file.
   */
  static open(path: string): FileElfSource {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new TypeError(`Cannot read ELF from "${path}": not a regular file`);
      return new FileElfSource(fd, Number(st.size), true);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** The descriptor, or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /**
   * Reads with pread until `length` bytes or the end of the file.
   *
   * @param offset Byte offset.
   * @param length Number of bytes wanted.
   * @returns A new buffer of at most `length` bytes.
   * @throws {Error} On I/O errors or after close.
   */
  readAt(offset: number, length: number): Uint8Array {
    if (this.#fd < 0) throw new Error("Cannot read ELF source: it is closed");
    // Clamp to the size seen at open: lengths come from file headers and must not size buffers.
    const n = Math.min(length, this.size - offset);
    if (!(offset >= 0) || !(n > 0)) return new Uint8Array(0);
    const buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = readSync(this.#fd, buf, got, n - got, offset + got);
      if (r <= 0) break;
      got += r;
    }
    return got === n ? buf : buf.subarray(0, got);
  }

  /** Closes the descriptor if owned; safe to call twice. */
  close(): void {
    if (this.#fd >= 0 && this.#owned) closeSync(this.#fd);
    this.#fd = -1;
  }

  /** Same as {@link FileElfSource.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
