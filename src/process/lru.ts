// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The agent's one cache type: a bounded least-recently-used cache on a `Map` (whose iteration
 * order is insertion order: a hit re-inserts the key at the end, an insert past capacity drops
 * the first key), with an optional time to live so that negative results expire.
 *
 * @example A bounded cache whose entries expire after a minute
 * ```ts
 * import { LruCache } from "./lru.ts";
 * const c = new LruCache<string, number>(2, 60_000);
 * c.set("a", 1);
 * if (c.get("a") !== 1) throw new Error("miss");
 * ```
 */
export class LruCache<K, V> {
  readonly #max: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #map = new Map<K, { value: V; at: number }>();

  /**
   * Creates an empty cache.
   *
   * @param max Capacity; at least 1.
   * @param ttlMs Age after which an entry is a miss.
   * @param now The clock in ms (tests replace it).
   */
  constructor(max: number, ttlMs = Infinity, now: () => number = Date.now) {
    if (!(max >= 1)) throw new RangeError(`Cannot create cache: capacity ${max} is not >= 1`);
    this.#max = Math.floor(max);
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /** Number of entries, expired ones included until they are looked up or pushed out. */
  get size(): number {
    return this.#map.size;
  }

  /**
   * Looks up a fresh entry and marks it most recently used.
   *
   * @param key The key.
   * @returns The value, or undefined if absent or expired (an expired entry is dropped).
   */
  get(key: K): V | undefined {
    const e = this.#map.get(key);
    if (!e) return undefined;
    this.#map.delete(key);
    if (this.#now() - e.at >= this.#ttlMs) return undefined;
    this.#map.set(key, e);
    return e.value;
  }

  /**
   * Whether a fresh entry exists, without marking it used.
   *
   * @param key The key.
   * @returns True if {@link get} would return a value.
   */
  has(key: K): boolean {
    const e = this.#map.get(key);
    return e !== undefined && this.#now() - e.at < this.#ttlMs;
  }

  /**
   * Stores a value, evicting the least recently used entry when full.
   *
   * @param key The key.
   * @param value The value; not undefined, which {@link get} uses for "absent".
   */
  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, { value, at: this.#now() });
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as K);
  }

  /**
   * Removes an entry.
   *
   * @param key The key.
   * @returns True if it was there.
   */
  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  /** Empties the cache. */
  clear(): void {
    this.#map.clear();
  }
}
