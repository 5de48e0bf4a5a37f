// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Map operations beyond the sampler's own drains: creating one exact-size array per unwind table
 * (an inner map of exe_id_to_table), filling it with one batch call, and small key listings.
 *
 * @module
 */

import { cstr, errno, libbpf, libc, NativeError } from "./ffi.ts";
import { UNWIND_ROW } from "./types.ts";

const BPF_MAP_TYPE_ARRAY = 2;
const BPF_F_INNER_MAP = 1 << 12;
/** sizeof(struct bpf_map_create_opts) in libbpf 1.1, and the offset of map_flags in it. */
const CREATE_OPTS_SIZE = 48;
const CREATE_OPTS_MAP_FLAGS = 28;
const ENOENT = 2;

/**
 * Creates an array map of unwind rows, sized exactly, flagged as an inner map so it can sit in
 * exe_id_to_table next to tables of other sizes, and fills it in one batch update.
 *
 * @param rows Packed struct unwind_row values (8 bytes each).
 * @returns The new map's fd (the caller closes it once the outer map holds the table).
 * @throws {NativeError} When the kernel refuses the map (ENOMEM: memory cgroup limit) or the update.
 */
export function createUnwindTableMap(rows: Uint8Array<ArrayBuffer>): number {
  const n = rows.length / UNWIND_ROW.size;
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`Cannot create an unwind table of ${n} rows`);
  }
  const opts = new Uint8Array(CREATE_OPTS_SIZE);
  const view = new DataView(opts.buffer);
  view.setBigUint64(0, BigInt(CREATE_OPTS_SIZE), true);
  view.setUint32(CREATE_OPTS_MAP_FLAGS, BPF_F_INNER_MAP, true);
  const fd = libbpf().bpf_map_create(
    BPF_MAP_TYPE_ARRAY,
    cstr("unwind_table"),
    4,
    UNWIND_ROW.size,
    n,
    opts,
  );
  if (fd < 0) throw new NativeError(`create an unwind table map of ${n} rows`, -fd);
  try {
    const keys = new Uint32Array(n);
    for (let i = 0; i < n; i++) keys[i] = i;
    updateMapBatch(fd, new Uint8Array(keys.buffer), rows, n);
  } catch (e) {
    libc().close(fd);
    throw e;
  }
  return fd;
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
