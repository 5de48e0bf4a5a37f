// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import client from "prom-client";
import { registry } from "../metrics/mod.ts";
import { encodeProfile, type Profile } from "../pprof/mod.ts";
import type { ExecutableMapping } from "../process/mod.ts";
import { NativeSymbolizer, type NativeSymbolizerOptions } from "./native.ts";
import { symbolizeProfile } from "./profile.ts";
import { SourceIndex } from "./sources.ts";

/** Metrics of local symbolization. */
export const symbolizeMetrics = {
  /** Profiles symbolized. */
  profiles: new client.Counter({
    name: "parca_agent_symbolize_profiles_total",
    help: "Profiles symbolized locally (/query?symbolize=1, the UI, --local-store-symbolize).",
    registers: [registry],
  }),
  /** Locations named, or left as module+0xADDR by reason. */
  locations: new client.Counter({
    name: "parca_agent_symbolize_locations_total",
    help: "User locations symbolized locally: outcome named, or why not (no_symbols, " +
      "too_large, unreachable, unknown_address, ...).",
    labelNames: ["outcome"] as const,
    registers: [registry],
  }),
  /** Time to symbolize one profile. */
  seconds: new client.Histogram({
    name: "parca_agent_symbolize_duration_seconds",
    help: "Time to symbolize one profile (worker included).",
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  }),
  /** Profiles the local store wrote unsymbolized because the queue was full. */
  queueDropped: new client.Counter({
    name: "parca_agent_symbolize_queue_overflow_total",
    help: "Profiles written unsymbolized because the symbolization queue was full.",
    registers: [registry],
  }),
};

/** A profile with what symbolizing it needs. */
export interface SymbolizableProfile {
  pid: number;
  profile: Profile;
  /** In pprof mapping order. */
  mappings?: readonly ExecutableMapping[];
}

/**
 * The agent's local symbolization: a {@link NativeSymbolizer} plus the index of which processes
 * map each file, and a bounded background queue for sinks that symbolize every profile.
 *
 * @example
 * ```ts ignore
 * const local = new LocalSymbolizer({ debugDirectories: ["/usr/lib/debug"] });
 * local.note(p.pid, p.mappings); // for every profile made
 * const { pprof } = await local.symbolize(p); // on request
 * ```
 */
export class LocalSymbolizer {
  /** The symbolizer (its stats and memory for /metrics and benchmarks). */
  readonly native: NativeSymbolizer;
  readonly #sources = new SourceIndex();
  readonly #maxQueued: number;
  #queued = 0;
  #tail: Promise<void> = Promise.resolve();

  /**
   * @param options The symbolizer's options; `maxQueued`: profiles waiting in
   * {@link LocalSymbolizer.enqueue} at most (default 64).
   */
  constructor(options: NativeSymbolizerOptions & { maxQueued?: number }) {
    this.native = new NativeSymbolizer(options);
    this.#maxQueued = options.maxQueued ?? 64;
  }

  /**
   * Remembers which files a process maps (cheap; call it for every profile).
   *
   * @param pid The process.
   * @param mappings Its executable mappings.
   */
  note(pid: number, mappings: readonly ExecutableMapping[] | undefined): void {
    if (mappings) this.#sources.note(pid, mappings);
  }

  /**
   * Symbolizes a copy of a profile and encodes it.
   *
   * @param p The profile, its process and mappings.
   * @returns The symbolized profile and its gzipped pprof.
   */
  async symbolize(p: SymbolizableProfile): Promise<{ profile: Profile; pprof: Uint8Array }> {
    const profile = await this.symbolizeCopy(p);
    return { profile, pprof: encodeProfile(profile) };
  }

  /**
   * Symbolizes a copy of a profile, without encoding it.
   *
   * @param p The profile, its process and mappings.
   * @returns The symbolized copy.
   */
  async symbolizeCopy(p: SymbolizableProfile): Promise<Profile> {
    const t0 = performance.now();
    const { profile, report } = await symbolizeProfile(
      p.profile,
      { pid: p.pid, mappings: p.mappings ?? [] },
      this.native,
      (key) => this.#sources.sources(key),
    );
    symbolizeMetrics.profiles.inc();
    if (report.named > 0) symbolizeMetrics.locations.inc({ outcome: "named" }, report.named);
    for (const [why, n] of Object.entries(report.unnamed)) {
      symbolizeMetrics.locations.inc({ outcome: why }, n);
    }
    symbolizeMetrics.seconds.observe((performance.now() - t0) / 1000);
    return profile;
  }

  /**
   * Symbolizes in the background, one profile at a time, and hands the result on; when more
   * than `maxQueued` wait, the profile is handed on as it is (counted), so a slow symbolizer
   * delays nothing and holds bounded memory.
   *
   * @param p The profile.
   * @param then Receives the symbolized pprof, or the original when it could not be.
   */
  enqueue(
    p: SymbolizableProfile & { pprof: Uint8Array },
    then: (pprof: Uint8Array) => Promise<unknown> | unknown,
  ): void {
    if (this.#queued >= this.#maxQueued) {
      symbolizeMetrics.queueDropped.inc();
      void Promise.resolve().then(() => then(p.pprof)).catch(() => {});
      return;
    }
    this.#queued++;
    this.#tail = this.#tail
      .then(() => this.symbolize(p))
      .then((s) => s.pprof, () => p.pprof)
      .then((pprof) => then(pprof))
      .then(() => {}, () => {})
      .finally(() => this.#queued--);
  }

  /** Waits for the queue to drain (at shutdown, so the last profiles are written). */
  drain(): Promise<void> {
    return this.#tail;
  }

  /** Stops the worker. */
  close(): void {
    this.native.close();
  }
}
