// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * A BPF ring buffer read from an mmap'd view in JS: no FFI call and no callback per event (a
 * libbpf callback from JS costs about 50 µs when it hops threads and drops events). The
 * algorithm is libbpf's ringbuf_process_ring: records are `u32 len | BUSY | DISCARD`, a 4-byte
 * pad, then the payload, 8-byte aligned. Every mapped page counts in the agent's RSS, and the
 * data area is as large as --bpf-events-buffer-size says (32 MiB at the default 8192 pages), so
 * only a window of it is mapped: the kernel offers the data pages twice back to back, so a window
 * of up to the whole area starting at any data page is contiguous, and a record that wraps needs
 * no copy. The window moves (munmap + mmap at the consumer's page) when the consumer reaches its
 * end: once per {@link WINDOW_BYTES} of events.
 *
 * @module
 */

import { errno, libc, NativeError } from "./ffi.ts";

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const MAP_FAILED = 0xffffffffffffffffn;
const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const HEADER = 8;

/** Bytes of the data area mapped at a time (fewer when the buffer is smaller). */
export const WINDOW_BYTES = 256 * 1024;

/** A consumer of one BPF_MAP_TYPE_RINGBUF map. */
export class RingBuffer {
  #fd: number;
  #consumerPage: Deno.PointerObject | null;
  #producerPage: Deno.PointerObject | null;
  #pageSize: number;
  #size: number;
  #consumerPos: BigInt64Array;
  #producerPos: BigInt64Array;
  /** The mapped window of the data area: [#winStart, #winStart + #winLen) of the doubled area. */
  #window: Deno.PointerObject | null = null;
  #winStart = 0;
  #winLen = 0;
  #header = new Uint32Array(0);
  #data = new DataView(new ArrayBuffer(0));
  /** Windows mapped so far (for tests and /metrics). */
  windowsMapped = 0;

  /**
   * Maps the ring buffer of a map fd.
   *
   * @param fd The ring buffer map's fd.
   * @param size Its max_entries (data size in bytes, a power of two).
   * @throws {NativeError} When mmap fails.
   */
  constructor(fd: number, size: number) {
    const c = libc();
    this.#fd = fd;
    this.#pageSize = c.getpagesize();
    this.#size = size;
    const page = BigInt(this.#pageSize);
    const cons = c.mmap(null, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    if (!cons || Deno.UnsafePointer.value(cons) === MAP_FAILED) {
      throw new NativeError("map the events ring buffer (consumer page)", errno());
    }
    const prod = c.mmap(null, page, PROT_READ, MAP_SHARED, fd, page);
    if (!prod || Deno.UnsafePointer.value(prod) === MAP_FAILED) {
      c.munmap(cons, page);
      throw new NativeError("map the events ring buffer (producer page)", errno());
    }
    this.#consumerPage = cons;
    this.#producerPage = prod;
    this.#consumerPos = new BigInt64Array(Deno.UnsafePointerView.getArrayBuffer(cons, 8));
    this.#producerPos = new BigInt64Array(Deno.UnsafePointerView.getArrayBuffer(prod, 8));
  }

  /**
   * True when the producer is ahead of the consumer: records not consumed yet, or one still
   * being written (reserved, not committed). The kernel wakes an epoll waiter at a commit only
   * when the consumer had caught up with that record, so a record that was still being written
   * when {@link consume} stopped at it may commit without a wake-up: poll while this is true.
   */
  get pending(): boolean {
    if (!this.#producerPage) return false;
    return Atomics.load(this.#producerPos, 0) > Atomics.load(this.#consumerPos, 0);
  }

  /** Bytes of the data area mapped now. */
  get mappedBytes(): number {
    return this.#winLen;
  }

  /**
   * Makes `bytes` bytes at ring position `pos` readable; returns their offset in the window.
   * A window starts at a data page below the area's size and is at most the area's size long,
   * which the kernel's double mapping always covers.
   */
  #at(pos: number, bytes: number): number {
    const off = pos & (this.#size - 1);
    if (off >= this.#winStart && off + bytes <= this.#winStart + this.#winLen) {
      return off - this.#winStart;
    }
    const start = off - (off % this.#pageSize);
    const need = off - start + bytes;
    const len = Math.min(
      this.#size,
      Math.max(WINDOW_BYTES, Math.ceil(need / this.#pageSize) * this.#pageSize),
    );
    if (need > len) throw new RangeError(`ring buffer record of ${bytes} bytes exceeds the buffer`);
    const c = libc();
    if (this.#window) c.munmap(this.#window, BigInt(this.#winLen));
    this.#window = null;
    this.#winLen = 0;
    const w = c.mmap(
      null,
      BigInt(len),
      PROT_READ,
      MAP_SHARED,
      this.#fd,
      BigInt(2 * this.#pageSize + start),
    );
    if (!w || Deno.UnsafePointer.value(w) === MAP_FAILED) {
      throw new NativeError("map the events ring buffer (data window)", errno());
    }
    this.#window = w;
    this.#winStart = start;
    this.#winLen = len;
    this.windowsMapped++;
    const buf = Deno.UnsafePointerView.getArrayBuffer(w, len);
    this.#header = new Uint32Array(buf);
    this.#data = new DataView(buf);
    return off - start;
  }

  /**
   * Hands every complete record to `onRecord` and releases their space.
   *
   * @param onRecord Called with a view over the mapped data, the payload offset and length.
   *   The view is only valid during the call.
   * @param max Stop after this many records (the rest stay for the next call).
   * @returns Records consumed.
   */
  consume(
    onRecord: (view: DataView, offset: number, length: number) => void,
    max = Infinity,
  ): number {
    if (!this.#producerPage) return 0;
    let cons = Number(Atomics.load(this.#consumerPos, 0));
    let n = 0;
    for (;;) {
      const prod = Number(Atomics.load(this.#producerPos, 0));
      if (cons >= prod || n >= max) break;
      while (cons < prod && n < max) {
        const at = this.#at(cons, HEADER);
        const hdr = Atomics.load(this.#header, at >>> 2);
        if (hdr & BUSY) {
          // The producer has reserved but not yet committed this record: stop here.
          Atomics.store(this.#consumerPos, 0, BigInt(cons));
          return n;
        }
        const len = hdr & ~(BUSY | DISCARD);
        if (!(hdr & DISCARD)) {
          const rec = this.#at(cons, HEADER + len);
          onRecord(this.#data, rec + HEADER, len);
          n++;
        }
        cons += (len + HEADER + 7) & ~7;
      }
      Atomics.store(this.#consumerPos, 0, BigInt(cons));
    }
    return n;
  }

  /** Unmaps the buffer. Idempotent. */
  close(): void {
    const c = libc();
    const page = BigInt(this.#pageSize);
    if (this.#consumerPage) c.munmap(this.#consumerPage, page);
    if (this.#producerPage) c.munmap(this.#producerPage, page);
    if (this.#window) c.munmap(this.#window, BigInt(this.#winLen));
    this.#consumerPage = null;
    this.#producerPage = null;
    this.#window = null;
    this.#winLen = 0;
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
