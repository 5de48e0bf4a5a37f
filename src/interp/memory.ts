// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import * as procfs from "../procfs/mod.ts";

/** Reads another process's memory; every read is bounded and may fail (unmapped, exited). */
export interface ProcessMemory {
  /**
   * Reads `length` bytes at `addr`.
   *
   * @param addr A virtual address in the process.
   * @param length Bytes wanted, at most {@link MAX_READ_BYTES}.
   * @returns Exactly `length` bytes, or undefined when any of them cannot be read.
   */
  read(addr: number, length: number): Uint8Array | undefined;
  /** Releases the descriptor; reads after it fail. Safe to call twice. */
  close(): void;
}

/** Largest single read: interpreter strings and line tables are far smaller. */
export const MAX_READ_BYTES = 1 << 20;

/**
 * {@link ProcessMemory} over `/proc/PID/mem`, read with pread. The kernel checks ptrace access
 * (the agent is root, a test reads its own children), and an unmapped address fails the read
 * rather than faulting the agent.
 */
export class ProcMemory implements ProcessMemory {
  #fd: number;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /**
   * Opens a process's memory.
   *
   * @param pid The process.
   * @returns The reader.
   * @throws {Error} When the process is gone or access is denied.
   */
  static open(pid: number): ProcMemory {
    return new ProcMemory(procfs.openSync(`/proc/${pid}/mem`));
  }

  /** @inheritdoc */
  read(addr: number, length: number): Uint8Array | undefined {
    if (this.#fd < 0 || !(addr > 0) || !(length > 0) || length > MAX_READ_BYTES) return undefined;
    if (!Number.isSafeInteger(addr + length)) return undefined;
    const buf = new Uint8Array(length);
    try {
      let got = 0;
      while (got < length) {
        const n = procfs.readSync(this.#fd, buf, got, length - got, addr + got);
        if (n <= 0) return undefined;
        got += n;
      }
    } catch {
      return undefined;
    }
    return buf;
  }

  /** @inheritdoc */
  close(): void {
    if (this.#fd >= 0) procfs.closeSync(this.#fd);
    this.#fd = -1;
  }
}

/** Little-endian field readers over bytes read from a process. */
export class Fields {
  readonly #dv: DataView;

  /** @param bytes What was read. */
  constructor(readonly bytes: Uint8Array) {
    this.#dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /**
   * @param off Byte offset.
   * @returns The u64 at `off` as a number (addresses fit in 53 bits), or 0 when out of range.
   */
  ptr(off: number): number {
    if (off + 8 > this.bytes.length) return 0;
    const v = this.#dv.getBigUint64(off, true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(v);
  }

  /**
   * @param off Byte offset.
   * @returns The i32 at `off`, or 0 when out of range.
   */
  i32(off: number): number {
    return off + 4 <= this.bytes.length ? this.#dv.getInt32(off, true) : 0;
  }

  /**
   * @param off Byte offset.
   * @returns The u32 at `off`, or 0 when out of range.
   */
  u32(off: number): number {
    return off + 4 <= this.bytes.length ? this.#dv.getUint32(off, true) : 0;
  }
}
