// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// A bounded cache whose entries also expire: least recently used entries go first when full
// (a Map iterates in insertion order, and a hit re-inserts), and an entry older than the TTL is
// a miss, so that metadata that changes without any event (a renamed container, a process
// moved to another cgroup) is read again eventually.

/** An LRU cache with a time to live. */
export class TtlCache<K, V> {
  readonly #max: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #map = new Map<K, { value: V; at: number }>();

  /**
   * @param max Capacity (at least 1).
   * @param ttlMs Age after which an entry is a miss; Infinity for none.
   * @param now The clock (tests replace it).
   */
  constructor(max: number, ttlMs: number, now: () => number = Date.now) {
    this.#max = Math.max(1, Math.floor(max));
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /** Number of entries, expired ones included. */
  get size(): number {
    return this.#map.size;
  }

  /**
   * Looks up a fresh entry and marks it recently used.
   *
   * @param key The key.
   * @returns The value, or undefined if absent or expired.
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
   * Stores a value, evicting the least recently used entry when full.
   *
   * @param key The key.
   * @param value The value.
   */
  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, { value, at: this.#now() });
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as K);
  }

  /** Empties the cache. */
  clear(): void {
    this.#map.clear();
  }
}
