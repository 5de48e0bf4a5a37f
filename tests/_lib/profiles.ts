// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Reading the profiles an agent wrote to its local store, for end-to-end tests: per pid, per
 * window, with frames named from the test programs' symbols.
 *
 * @module
 */

import { decodeProfile, type Profile } from "../../src/pprof/mod.ts";
import { type ElfSymbols, namedStacks } from "./symbols.ts";

/** One profile file of the store. */
export interface StoredProfile {
  pid: number;
  file: string;
  profile: Profile;
  /** Window start, ns since the epoch. */
  timeNanos: bigint;
  /** Base names of its mappings' files. */
  mappingFiles: string[];
  /** Samples in it. */
  samples: number;
  /** Samples with at least one user frame that has no mapping. */
  unmappedSamples: number;
  /** Frames named leaf first, per sample. */
  stacks: Array<{ frames: string[]; count: number; labels: Record<string, string> }>;
}

/**
 * Reads every profile of a store (optionally only some pids).
 *
 * @param dir The --local-store-directory.
 * @param binaries Programs whose frames to name.
 * @param pids Only these pids, when given.
 * @returns The profiles, oldest window first.
 */
export async function readStore(
  dir: string,
  binaries: Array<{ path: string; syms: ElfSymbols }>,
  pids?: ReadonlySet<number>,
): Promise<StoredProfile[]> {
  const out: StoredProfile[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return [];
  }
  for (const e of entries) {
    const m = /^(\d+)_/.exec(e.name);
    if (!m || !e.name.endsWith(".pb.gz")) continue;
    const pid = Number(m[1]);
    if (pids && !pids.has(pid)) continue;
    let profile: Profile;
    try {
      profile = decodeProfile(await Deno.readFile(`${dir}/${e.name}`));
    } catch {
      continue; // being written (files are renamed into place, so this is rare)
    }
    const str = profile.stringTable;
    const locations = new Map(profile.location.map((l) => [l.id, l]));
    let samples = 0;
    let unmappedSamples = 0;
    for (const s of profile.sample) {
      const n = Number(s.value[0]);
      samples += n;
      // A location without a mapping and without a function is a bare user address: no
      // server or pprof can name it. Kernel, vDSO and marker frames have a function.
      const bare = s.locationId.some((id) => {
        const l = locations.get(id);
        return l !== undefined && l.mappingId === 0n && l.line.length === 0;
      });
      if (bare) unmappedSamples += n;
    }
    out.push({
      pid,
      file: e.name,
      profile,
      timeNanos: profile.timeNanos,
      mappingFiles: profile.mapping.map((mm) => str[Number(mm.filename)].split("/").pop()!),
      samples,
      unmappedSamples,
      stacks: namedStacks(profile, binaries),
    });
  }
  return out.sort((a, b) => Number(a.timeNanos - b.timeNanos));
}

/** Frames of the sampled program, leaf first, without the kernel and vDSO frames above them. */
export function userPart(frames: string[]): string[] {
  let i = 0;
  while (
    i < frames.length && (frames[i].startsWith("k:") || /vdso|clock_gettime/.test(frames[i]))
  ) {
    i++;
  }
  return frames.slice(i);
}

/**
 * Whether `frames` contains `seq` contiguously.
 *
 * @param frames Frames, leaf first.
 * @param seq The run to find.
 * @returns True if found.
 */
export function hasRun(frames: string[], seq: string[]): boolean {
  for (let i = 0; i + seq.length <= frames.length; i++) {
    if (seq.every((s, j) => frames[i + j] === s)) return true;
  }
  return false;
}

/**
 * The share of samples for which `check` holds, with the commonest failures for messages.
 *
 * @param stacks Named stacks.
 * @param check The condition, given a stack's frames and the stack itself.
 * @returns Share, samples in all and passing, and a description of the worst stacks.
 */
export function share<T extends { frames: string[]; count: number }>(
  stacks: T[],
  check: (frames: string[], stack: T) => boolean,
): { share: number; total: number; good: number; bad: string } {
  let total = 0;
  let good = 0;
  const bad = new Map<string, number>();
  for (const s of stacks) {
    total += s.count;
    if (check(s.frames, s)) good += s.count;
    else {
      const k = s.frames.join(" <- ");
      bad.set(k, (bad.get(k) ?? 0) + s.count);
    }
  }
  const worst = [...bad].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, n]) => `${n}× ${k}`);
  return { share: total ? good / total : 0, total, good, bad: worst.join("\n") };
}

/**
 * Waits until `cond` holds, polling.
 *
 * @param cond The condition.
 * @param timeoutMs How long at most.
 * @param what What is waited for, for the error.
 * @param everyMs How often the condition is tried.
 */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  everyMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
