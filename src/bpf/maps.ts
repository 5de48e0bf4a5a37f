// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Map operations beyond the sampler's own drains: creating a chunk of the unwind row space (an
 * inner map of unwind_chunks), filling array ranges with batch calls, and small key listings.
 *
 * @module
 */

import { cstr, errno, libbpf, NativeError } from "./ffi.ts";
import { UNWIND_ROW } from "./types.ts";

const BPF_MAP_TYPE_ARRAY = 2;
const ENOENT = 2;

/**
 * Creates one chunk of the unwind row space: an array of `rows` rows, the size of every chunk
 * (no BPF_F_INNER_MAP: same-size inner maps are what lets the verifier inline lookups in them).
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
    null,
  );
  if (fd < 0) throw new NativeError(`create an unwind chunk map of ${rows} rows`, -fd);
  return fd;
}

/**
 * Writes consecutive u32 keys `first..first+count-1` with bpf_map_update_batch.
 *
 * @param fd An array map.
 * @param first First key.
 * @param values Packed values (`count` of them).
 * @param count Number of values.
 */
export function updateArrayRange(
  fd: number,
  first: number,
  values: Uint8Array<ArrayBuffer>,
  count: number,
): void {
  const keys = new Uint32Array(count);
  for (let i = 0; i < count; i++) keys[i] = first + i;
  updateMapBatch(fd, new Uint8Array(keys.buffer), values, count);
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
 * Deletes one key; a missing key is not an error.
 *
 * @param fd The map.
 * @param key The key bytes.
 * @returns true when the key existed.
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
