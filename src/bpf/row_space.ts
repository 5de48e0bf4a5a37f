// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Where unwind tables go in the BPF row space (bpf/maps.h unwind_chunks): `chunks` chunks of
 * `chunkRows` rows, a table a contiguous range of rows. First fit over a sorted list of free
 * ranges, neighbours merged on free; per chunk a count of the rows in use, so the caller knows
 * which chunks a table newly needs and which no table uses any more. Pure bookkeeping:
 * src/bpf/unwind_maps.ts does the map calls.
 *
 * @module
 */

/** A range of rows handed out by {@link RowSpace.allocate}. */
export interface RowRange {
  first: number;
  rows: number;
}

/** The free ranges of the row space and the use count of each chunk. */
export class RowSpace {
  readonly chunkRows: number;
  readonly chunks: number;
  /** Free ranges, sorted by `first`, never adjacent (merged). */
  readonly #free: RowRange[];
  readonly #used: Uint32Array;
  #usedRows = 0;

  /**
   * @param chunkRows Rows per chunk.
   * @param chunks Chunks at most.
   */
  constructor(chunkRows: number, chunks: number) {
    this.chunkRows = chunkRows;
    this.chunks = chunks;
    this.#free = [{ first: 0, rows: chunkRows * chunks }];
    this.#used = new Uint32Array(chunks);
  }

  /** Rows handed out now. */
  get usedRows(): number {
    return this.#usedRows;
  }

  /** Chunks holding at least one row now (each is a map in the kernel). */
  get liveChunks(): number {
    let n = 0;
    for (const u of this.#used) if (u > 0) n++;
    return n;
  }

  /**
   * Takes `rows` contiguous rows: the lowest free range that fits, so tables pack into the
   * chunks already live.
   *
   * @param rows Rows wanted (> 0).
   * @returns The range and the chunks that become live (to create), or undefined when no free
   *   range is long enough.
   */
  allocate(rows: number): { range: RowRange; newChunks: number[] } | undefined {
    if (!(rows > 0)) throw new RangeError(`Cannot allocate ${rows} rows`);
    const at = this.#free.findIndex((f) => f.rows >= rows);
    if (at < 0) return undefined;
    const f = this.#free[at];
    const range = { first: f.first, rows };
    if (f.rows === rows) this.#free.splice(at, 1);
    else this.#free[at] = { first: f.first + rows, rows: f.rows - rows };
    const newChunks: number[] = [];
    this.#each(range, (chunk, n) => {
      if (this.#used[chunk] === 0) newChunks.push(chunk);
      this.#used[chunk] += n;
    });
    this.#usedRows += rows;
    return { range, newChunks };
  }

  /**
   * Gives a range back.
   *
   * @param range A range from {@link allocate}, not freed before.
   * @returns The chunks no range uses any more (to delete).
   */
  free(range: RowRange): number[] {
    const emptied: number[] = [];
    this.#each(range, (chunk, n) => {
      this.#used[chunk] -= n;
      if (this.#used[chunk] === 0) emptied.push(chunk);
    });
    this.#usedRows -= range.rows;
    // Insert in order, merging with the neighbours.
    let i = 0;
    while (i < this.#free.length && this.#free[i].first < range.first) i++;
    const merged = { ...range };
    const prev = this.#free[i - 1];
    if (prev && prev.first + prev.rows === merged.first) {
      merged.first = prev.first;
      merged.rows += prev.rows;
      this.#free.splice(--i, 1);
    }
    const next = this.#free[i];
    if (next && merged.first + merged.rows === next.first) {
      merged.rows += next.rows;
      this.#free.splice(i, 1);
    }
    this.#free.splice(i, 0, merged);
    return emptied;
  }

  /** Calls `fn(chunk, rowsOfTheRangeInIt)` for each chunk a range touches. */
  #each(range: RowRange, fn: (chunk: number, rows: number) => void): void {
    let at = range.first;
    const end = range.first + range.rows;
    while (at < end) {
      const chunk = Math.floor(at / this.chunkRows);
      const chunkEnd = (chunk + 1) * this.chunkRows;
      const n = Math.min(end, chunkEnd) - at;
      fn(chunk, n);
      at += n;
    }
  }
}

/**
 * A table's page index (bpf/maps.h struct unwind_table_index): page p covers the table pcs
 * [(base + p) << shift, (base + p + 1) << shift), and `entries[2p]`, `entries[2p + 1]` are the
 * range of rows a search for a pc in it looks at (see {@link buildPageIndex}).
 */
export interface PageIndex {
  shift: number;
  base: number;
  pages: number;
  /** Per page: the first row that may hold a pc of the page, and the end (exclusive). */
  entries: Uint32Array<ArrayBuffer>;
}

/** Rows per page, at least, on average: the index is at most 1/16 of the table's rows. */
export const ROWS_PER_PAGE = 16;

/**
 * Builds the page index of a table: the smallest power-of-two page size that gives at most
 * rows / {@link ROWS_PER_PAGE} pages between the first row's pc and the last row's. For a pc in
 * page p, the row that covers it (the last row whose pc is at most pc) is among rows [lo, hi)
 * with lo = the rows that start before the page (if lo > 0, row lo - 1 covers the page's start)
 * and hi = the rows that start before the next page: the BPF search looks there only.
 *
 * @param rows Packed rows (u32 pc, u32 rule; little-endian), sorted by pc.
 * @returns The index, or undefined when one page would cover all rows (small tables).
 */
export function buildPageIndex(rows: Uint8Array): PageIndex | undefined {
  const n = Math.floor(rows.length / 8);
  const maxPages = Math.floor(n / ROWS_PER_PAGE);
  if (maxPages < 2) return undefined;
  const view = new DataView(rows.buffer, rows.byteOffset, n * 8);
  const pcAt = (i: number) => view.getUint32(i * 8, true);
  const first = pcAt(0), last = pcAt(n - 1);
  let shift = 0;
  const pagesAt = (s: number) => Math.floor(last / 2 ** s) - Math.floor(first / 2 ** s) + 1;
  while (pagesAt(shift) > maxPages) shift++;
  const pages = pagesAt(shift);
  if (pages < 2) return undefined;
  const base = Math.floor(first / 2 ** shift);
  const entries = new Uint32Array(pages * 2);
  let i = 0;
  for (let p = 0; p < pages; p++) {
    const start = (base + p) * 2 ** shift;
    while (i < n && pcAt(i) < start) i++;
    entries[p * 2] = i;
    if (p > 0) entries[p * 2 - 1] = i;
  }
  entries[pages * 2 - 1] = n;
  return { shift, base, pages, entries };
}
