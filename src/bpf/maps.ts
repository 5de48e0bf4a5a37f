// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Map operations beyond the sampler's own drains: creating a chunk of the unwind row space (an
 * inner map of unwind_chunks), filling array ranges with batch calls, and small key listings.
 *
 * @module
 */

import { cstr, errno, libbpf, libc, NativeError } from "./ffi.ts";
import { UNWIND_ROW } from "./types.ts";

const BPF_MAP_TYPE_ARRAY = 2;
const ENOENT = 2;
/** BPF_F_MMAPABLE: the array's values can be mapped into user space and written directly. */
const BPF_F_MMAPABLE = 1 << 10;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const MAP_FAILED = 0xffffffffffffffffn;

/**
 * struct bpf_map_create_opts up to map_flags (libbpf reads `sz` to know which fields are set):
 * sz (size_t) at 0, btf_fd, btf_key_type_id, btf_value_type_id, btf_vmlinux_value_type_id,
 * inner_map_fd at 8..27, map_flags at 28.
 */
function chunkCreateOpts(): Uint8Array<ArrayBuffer> {
  const opts = new Uint8Array(32);
  const view = new DataView(opts.buffer);
  view.setBigUint64(0, 32n, true);
  view.setUint32(28, BPF_F_MMAPABLE, true);
  return opts;
}
const CHUNK_CREATE_OPTS = chunkCreateOpts();

/**
 * Creates one chunk of the unwind row space: an array of `rows` rows, the size of every chunk
 * (no BPF_F_INNER_MAP: same-size inner maps are what lets the verifier inline lookups in them),
 * mappable (BPF_F_MMAPABLE) so that {@link fillUnwindChunk} writes its rows with one copy
 * instead of a batch update (measured: 2 ms of kernel time per 4096-row chunk, half a second of
 * the main thread for libLLVM's 232 chunks).
 *
 * @param rows Rows per chunk (UNWIND_CHUNK_ROWS).
 * @returns The new map's fd (the caller closes it once the outer map holds the chunk).
 * @throws {NativeError} When the kernel refuses the map (ENOMEM: memory cgroup limit).
 */
export function createUnwindChunkMap(rows: number): number {
  const fd = libbpf().bpf_map_create(
    BPF_MAP_TYPE_ARRAY,
    cstr("unwind_chunk"),
    4,
    UNWIND_ROW.size,
    rows,
    CHUNK_CREATE_OPTS,
  );
  if (fd < 0) throw new NativeError(`create an unwind chunk map of ${rows} rows`, -fd);
  return fd;
}

/**
 * Copies the first `bytes` bytes of a chunk's rows out, through a read-only mapping.
 *
 * @param fd A chunk made by {@link createUnwindChunkMap}.
 * @param bytes How many bytes (at most the chunk's).
 * @returns A copy.
 * @throws {NativeError} When the chunk cannot be mapped.
 */
export function readUnwindChunk(fd: number, bytes: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes);
  if (bytes === 0) return out;
  const c = libc();
  const p = c.mmap(null, BigInt(bytes), PROT_READ, MAP_SHARED, fd, 0n);
  if (!p || Deno.UnsafePointer.value(p) === MAP_FAILED) {
    throw new NativeError("map an unwind chunk", errno());
  }
  try {
    out.set(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, bytes)));
  } finally {
    c.munmap(p, BigInt(bytes));
  }
  return out;
}

/**
 * Writes packed rows at the start of a chunk made by {@link createUnwindChunkMap}, through a
 * shared mapping of its values (the BPF program sees them at once; rows past `rows.length` are
 * left as they are).
 *
 * @param fd The chunk.
 * @param rows Packed rows (UNWIND_ROW.size bytes each), at most the chunk's.
 * @throws {NativeError} When the chunk cannot be mapped.
 */
export function fillUnwindChunk(fd: number, rows: Uint8Array): void {
  if (rows.length === 0) return;
  const c = libc();
  const len = BigInt(rows.length);
  const p = c.mmap(null, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
  if (!p || Deno.UnsafePointer.value(p) === MAP_FAILED) {
    throw new NativeError("map an unwind chunk", errno());
  }
  try {
    new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, rows.length)).set(rows);
  } finally {
    c.munmap(p, len);
  }
}

/**
 * Writes `count` key/value pairs with bpf_map_update_batch, in chunks the kernel accepts.
 *
 * @param fd The map.
 * @param keys Packed keys.
 * @param values Packed values.
 * @param count Number of pairs.
 */
export function updateMapBatch(
  fd: number,
  keys: Uint8Array<ArrayBuffer>,
  values: Uint8Array<ArrayBuffer>,
  count: number,
): void {
  const keySize = keys.length / count;
  const valueSize = values.length / count;
  const chunk = 1 << 16;
  const n = new Uint32Array(1);
  for (let start = 0; start < count; start += chunk) {
    const end = Math.min(count, start + chunk);
    n[0] = end - start;
    const rc = libbpf().bpf_map_update_batch(
      fd,
      keys.subarray(start * keySize, end * keySize),
      values.subarray(start * valueSize, end * valueSize),
      n,
      null,
    );
    if (rc < 0) throw new NativeError("fill a BPF map in batches", -rc);
  }
}

/**
 * Creates or replaces one element (BPF_ANY).
 *
 * @param fd The map.
 * @param key The key's bytes.
 * @param value The value's bytes.
 * @throws {NativeError} When the kernel refuses (E2BIG: the map is full).
 */
export function setMapElement(
  fd: number,
  key: Uint8Array<ArrayBuffer>,
  value: Uint8Array<ArrayBuffer>,
): void {
  const rc = libbpf().bpf_map_update_elem(fd, key, value, 0n);
  if (rc < 0) throw new NativeError("update a BPF map element", -rc);
}

/**
 * Deletes one element.
 *
 * @param fd The map.
 * @param key The key's bytes.
 * @returns False when the key was absent.
 * @throws {NativeError} On any other failure.
 */
export function deleteMapElement(fd: number, key: Uint8Array<ArrayBuffer>): boolean {
  const rc = libbpf().bpf_map_delete_elem(fd, key);
  if (rc === -ENOENT) return false;
  if (rc < 0) throw new NativeError("delete a BPF map element", -rc);
  return true;
}

/**
 * Lists the u32 keys of a hash map.
 *
 * @param fd The map.
 * @returns Its keys.
 */
export function listMapKeysU32(fd: number): number[] {
  const keys: number[] = [];
  const cur = new Uint32Array(1);
  const next = new Uint32Array(1);
  let first = true;
  for (;;) {
    const rc = libbpf().bpf_map_get_next_key(fd, first ? null : cur, next);
    if (rc === -ENOENT) break;
    if (rc < 0) throw new NativeError("list BPF map keys", -rc || errno());
    keys.push(next[0]);
    cur[0] = next[0];
    first = false;
  }
  return keys;
}
