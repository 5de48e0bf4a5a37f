// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * A BPF ring buffer read from an mmap'd view in JS: no FFI call and no callback per event (a
 * libbpf callback from JS costs about 50 µs when it hops threads and drops events). The
 * algorithm is libbpf's ringbuf_process_ring: records are `u32 len | BUSY | DISCARD`, a 4-byte
 * pad, then the payload, 8-byte aligned. The kernel offers the data area twice back to back (so a
 * wrapping record is contiguous), but every mapped page counts in the agent's RSS, so the data
 * is mapped once and the rare record that wraps is copied into a scratch buffer.
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

/** A consumer of one BPF_MAP_TYPE_RINGBUF map. */
export class RingBuffer {
  #consumerPage: Deno.PointerObject | null;
  #producerPages: Deno.PointerObject | null;
  #pageSize: number;
  #size: number;
  #consumerPos: BigInt64Array;
  #producerPos: BigInt64Array;
  #header: Uint32Array;
  #data: DataView;
  #bytes: Uint8Array;
  #scratch = new Uint8Array(256);

  /**
   * Maps the ring buffer of a map fd.
   *
   * @param fd The ring buffer map's fd.
   * @param size Its max_entries (data size in bytes, a power of two).
   * @throws {NativeError} When mmap fails.
   */
  constructor(fd: number, size: number) {
    const c = libc();
    this.#pageSize = c.getpagesize();
    this.#size = size;
    const cons = c.mmap(null, BigInt(this.#pageSize), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    if (!cons || Deno.UnsafePointer.value(cons) === MAP_FAILED) {
      throw new NativeError("map the events ring buffer (consumer page)", errno());
    }
    const prod = c.mmap(
      null,
      BigInt(this.#pageSize + size),
      PROT_READ,
      MAP_SHARED,
      fd,
      BigInt(this.#pageSize),
    );
    if (!prod || Deno.UnsafePointer.value(prod) === MAP_FAILED) {
      c.munmap(cons, BigInt(this.#pageSize));
      throw new NativeError("map the events ring buffer (data pages)", errno());
    }
    this.#consumerPage = cons;
    this.#producerPages = prod;
    this.#consumerPos = new BigInt64Array(Deno.UnsafePointerView.getArrayBuffer(cons, 8));
    this.#producerPos = new BigInt64Array(Deno.UnsafePointerView.getArrayBuffer(prod, 8));
    const data = Deno.UnsafePointerView.getArrayBuffer(prod, size, this.#pageSize);
    this.#header = new Uint32Array(data);
    this.#data = new DataView(data);
    this.#bytes = new Uint8Array(data);
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
    if (!this.#producerPages) return 0;
    const mask = this.#size - 1;
    let cons = Number(Atomics.load(this.#consumerPos, 0));
    let n = 0;
    for (;;) {
      const prod = Number(Atomics.load(this.#producerPos, 0));
      if (cons >= prod || n >= max) break;
      while (cons < prod && n < max) {
        const off = cons & mask;
        const hdr = Atomics.load(this.#header, off >>> 2);
        if (hdr & BUSY) {
          // The producer has reserved but not yet committed this record: stop here.
          Atomics.store(this.#consumerPos, 0, BigInt(cons));
          return n;
        }
        const len = hdr & ~(BUSY | DISCARD);
        if (!(hdr & DISCARD)) {
          const start = off + HEADER;
          if (start + len <= this.#size) {
            onRecord(this.#data, start, len);
          } else {
            // The payload wraps past the end of the data area: copy it out in two parts.
            if (this.#scratch.length < len) this.#scratch = new Uint8Array(len);
            const first = Math.max(0, this.#size - start);
            this.#scratch.set(this.#bytes.subarray(start & mask, (start & mask) + first), 0);
            this.#scratch.set(this.#bytes.subarray(0, len - first), first);
            onRecord(new DataView(this.#scratch.buffer), 0, len);
          }
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
    if (this.#consumerPage) c.munmap(this.#consumerPage, BigInt(this.#pageSize));
    if (this.#producerPages) c.munmap(this.#producerPages, BigInt(this.#pageSize + this.#size));
    this.#consumerPage = null;
    this.#producerPages = null;
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
