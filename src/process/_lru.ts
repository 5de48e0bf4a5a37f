// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * A bounded least-recently-used cache on a `Map`, whose iteration order is insertion order: a hit
 * re-inserts the key at the end, and an insert past capacity drops the first key.
 */
export class LruCache<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, V>();

  /**
   * Creates an empty cache.
   *
   * @param max Capacity; at least 1.
   */
  constructor(max: number) {
    if (!(max >= 1)) throw new RangeError(`Cannot create cache: capacity ${max} is not >= 1`);
    this.#max = Math.floor(max);
  }

  /** Number of entries. */
  get size(): number {
    return this.#map.size;
  }

  /**
   * Looks up a key and marks it most recently used.
   *
   * @param key The key.
   * @returns The value, or undefined if absent.
   */
  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  /**
   * Stores a value, evicting the least recently used entry when full.
   *
   * @param key The key.
   * @param value The value; not undefined, which {@link LruCache.get} uses for "absent".
   */
  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as K);
  }
}
