// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// From symbolized profiles to what the UI shows: stacks of named frames, a flame graph tree
// (d3-flame-graph's JSON shape), the top functions by self and total samples, folded stacks,
// and the difference of two ranges.

import type { Profile } from "../pprof/mod.ts";

/** How a frame is drawn: d3-flame-graph colours `kernel` and `inlined` frames apart. */
export type FrameKind = "native" | "kernel" | "inlined" | "marker";

/** One frame of a stack. */
export interface FlameFrame {
  name: string;
  kind: FrameKind;
}

/** One distinct stack, root first, with its samples. */
export interface FlameStack {
  frames: FlameFrame[];
  count: number;
}

/** A node of the flame graph tree, in d3-flame-graph's shape. */
export interface FlameNode {
  name: string;
  /** Samples in this node and below it. */
  value: number;
  children: FlameNode[];
  /** `kernel` or `inlined` (d3-flame-graph's colour groups); absent for native code. */
  libtype?: string;
  /** In a diff: samples now minus samples before (scaled to the same total), this node and below. */
  delta?: number;
}

/** A row of the top-functions table. */
export interface TopRow {
  name: string;
  /** Samples with this function as the innermost frame. */
  self: number;
  /** Samples with this function anywhere in the stack. */
  total: number;
  /** In a diff, the same two counts in the baseline range. */
  baseSelf?: number;
  baseTotal?: number;
}

const KERNEL_MAPPING = "[kernel.kallsyms]";

/**
 * The stacks of a profile, root first, every inlined call its own frame (the function it was
 * inlined into before it).
 *
 * @param p A profile, symbolized or not (unnamed frames show as hex addresses).
 * @returns Its samples as stacks; identical stacks are not merged here.
 */
export function profileStacks(p: Profile): FlameStack[] {
  const str = p.stringTable;
  const fnName = new Map(p.function.map((f) => [f.id, str[Number(f.name)] ?? "?"]));
  const kernelMappings = new Set(
    p.mapping.filter((m) => str[Number(m.filename)] === KERNEL_MAPPING).map((m) => m.id),
  );
  const locFrames = new Map<bigint, FlameFrame[]>();
  for (const loc of p.location) {
    const kernel = kernelMappings.has(loc.mappingId);
    const frames: FlameFrame[] = [];
    if (loc.line.length === 0) {
      frames.push({ name: `0x${loc.address.toString(16)}`, kind: kernel ? "kernel" : "native" });
    } else {
      // line[0] is the innermost inlined call, the last line the function it sits in.
      for (let i = loc.line.length - 1; i >= 0; i--) {
        const name = fnName.get(loc.line[i].functionId) ?? "?";
        let kind: FrameKind = kernel ? "kernel" : i < loc.line.length - 1 ? "inlined" : "native";
        if (loc.mappingId === 0n && name.startsWith("[")) kind = "marker";
        frames.push({ name, kind });
      }
    }
    locFrames.set(loc.id, frames);
  }
  const out: FlameStack[] = [];
  for (const s of p.sample) {
    const count = Number(s.value[0] ?? 0n);
    if (!(count > 0)) continue;
    const frames: FlameFrame[] = [];
    // location_id is leaf first; the flame graph wants the root first.
    for (let i = s.locationId.length - 1; i >= 0; i--) {
      const f = locFrames.get(s.locationId[i]);
      if (f) frames.push(...f);
    }
    out.push({ frames, count });
  }
  return out;
}

interface BuildNode {
  name: string;
  kind: FrameKind;
  /** Samples in this node and below. */
  value: number;
  /** Samples that end here (this node is their leaf). */
  self: number;
  children: Map<string, BuildNode>;
}

function keyOf(f: FlameFrame): string {
  return `${f.kind === "kernel" ? "k" : f.kind === "inlined" ? "i" : "n"}\0${f.name}`;
}

function newNode(name: string, kind: FrameKind): BuildNode {
  return { name, kind, value: 0, self: 0, children: new Map() };
}

/**
 * Stacks merged as they come (one profile at a time, so a long range never holds all its
 * profiles at once): a trie of frames with samples per node, and self/total samples per
 * function. It answers for the flame graph, the top table and the folded stacks.
 */
export class FlameAggregate {
  readonly #root = newNode("all", "native");
  readonly #fns = new Map<string, { self: number; total: number }>();
  readonly #seen = new Set<string>();
  /** Profiles added. */
  profiles = 0;

  /** Samples added. */
  get total(): number {
    return this.#root.value;
  }

  /**
   * Adds the stacks of one profile.
   *
   * @param p A profile (symbolized or not).
   */
  addProfile(p: Profile): void {
    this.addStacks(profileStacks(p));
    this.profiles++;
  }

  /**
   * Adds stacks.
   *
   * @param stacks Root-first stacks with counts.
   */
  addStacks(stacks: readonly FlameStack[]): void {
    const seen = this.#seen;
    for (const s of stacks) {
      let node = this.#root;
      node.value += s.count;
      seen.clear();
      for (const f of s.frames) {
        const k = keyOf(f);
        let child = node.children.get(k);
        if (!child) node.children.set(k, child = newNode(f.name, f.kind));
        child.value += s.count;
        node = child;
        if (seen.has(f.name)) continue; // recursion counts once per sample
        seen.add(f.name);
        let r = this.#fns.get(f.name);
        if (!r) this.#fns.set(f.name, r = { self: 0, total: 0 });
        r.total += s.count;
      }
      node.self += s.count;
      const leaf = s.frames[s.frames.length - 1];
      if (leaf) this.#fns.get(leaf.name)!.self += s.count;
    }
  }

  /**
   * The flame graph tree, children largest first; with `base`, each node's `delta` is its
   * samples here minus its samples in `base` scaled to this total (so a range with more samples
   * overall does not look slower everywhere; positive: more time now).
   *
   * @param base The baseline range, for a diff.
   * @returns d3-flame-graph's JSON.
   */
  tree(base?: FlameAggregate): FlameNode {
    const scale = base ? (base.total > 0 ? this.total / base.total : 1) || 1 : 0;
    return toJson(this.#root, base ? base.#root : undefined, scale);
  }

  /**
   * The functions with the most samples, by self then total.
   *
   * @param limit Rows at most.
   * @param base In a diff, the baseline (its counts fill `baseSelf`/`baseTotal`).
   * @returns The rows.
   */
  top(limit: number, base?: FlameAggregate): TopRow[] {
    const rows: TopRow[] = [...this.#fns].map(([name, c]) => ({ name, ...c }));
    if (base) {
      for (const r of rows) {
        r.baseSelf = base.#fns.get(r.name)?.self ?? 0;
        r.baseTotal = base.#fns.get(r.name)?.total ?? 0;
      }
      // Functions that disappeared are part of the answer too.
      for (const [name, c] of base.#fns) {
        if (!this.#fns.has(name)) {
          rows.push({ name, self: 0, total: 0, baseSelf: c.self, baseTotal: c.total });
        }
      }
    }
    rows.sort((a, b) =>
      b.self - a.self || b.total - a.total || (b.baseSelf ?? 0) - (a.baseSelf ?? 0) ||
      a.name.localeCompare(b.name)
    );
    return rows.slice(0, limit);
  }

  /**
   * Folded stacks (Brendan Gregg's format, read by flamegraph.pl, inferno and speedscope): one
   * line per distinct stack, frames root first joined by `;`, then a space and the count. A `;`
   * or a newline in a name would break the format and becomes `_`; kernel frames end in `_[k]`
   * and inlined ones in `_[i]`, as perf's stackcollapse writes them.
   *
   * @returns The text.
   */
  folded(): string {
    const out: string[] = [];
    const path: string[] = [];
    const walk = (n: BuildNode): void => {
      for (const c of n.children.values()) {
        path.push(
          c.name.replace(/[;\n\r]/g, "_") +
            (c.kind === "kernel" ? "_[k]" : c.kind === "inlined" ? "_[i]" : ""),
        );
        if (c.self > 0) out.push(`${path.join(";")} ${c.self}\n`);
        walk(c);
        path.pop();
      }
    };
    walk(this.#root);
    return out.join("");
  }
}

function toJson(n: BuildNode, base: BuildNode | undefined, scale: number): FlameNode {
  const out: FlameNode = { name: n.name, value: n.value, children: [] };
  if (n.kind === "kernel" || n.kind === "inlined") out.libtype = n.kind;
  if (scale > 0) out.delta = n.value - Math.round((base?.value ?? 0) * scale);
  // Largest first: the flame graph's left side is where the time went.
  const children = [...n.children.entries()].sort((a, b) => b[1].value - a[1].value);
  for (const [k, c] of children) out.children.push(toJson(c, base?.children.get(k), scale));
  return out;
}

function aggregate(stacks: readonly FlameStack[]): FlameAggregate {
  const a = new FlameAggregate();
  a.addStacks(stacks);
  return a;
}

/**
 * The flame graph tree of stacks: a root `all`, children largest first.
 *
 * @param stacks The stacks.
 * @returns d3-flame-graph's JSON.
 */
export function flameTree(stacks: readonly FlameStack[]): FlameNode {
  return aggregate(stacks).tree();
}

/**
 * The tree of `current` with each node's change from `base` (see {@link FlameAggregate.tree}).
 *
 * @param base The baseline range's stacks.
 * @param current The compared range's stacks.
 * @returns d3-flame-graph's JSON with `delta`.
 */
export function diffTree(base: readonly FlameStack[], current: readonly FlameStack[]): FlameNode {
  return aggregate(current).tree(aggregate(base));
}

/**
 * The functions with the most samples, by self then total.
 *
 * @param stacks The stacks.
 * @param limit Rows at most.
 * @param base In a diff, the baseline's stacks (its counts fill `baseSelf`/`baseTotal`).
 * @returns The rows.
 */
export function topFunctions(
  stacks: readonly FlameStack[],
  limit: number,
  base?: readonly FlameStack[],
): TopRow[] {
  return aggregate(stacks).top(limit, base ? aggregate(base) : undefined);
}

/**
 * Folded stacks of stacks (see {@link FlameAggregate.folded}).
 *
 * @param stacks The stacks.
 * @returns The text.
 */
export function foldedStacks(stacks: readonly FlameStack[]): string {
  return aggregate(stacks).folded();
}
