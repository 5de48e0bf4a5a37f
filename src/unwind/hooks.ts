// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * What the profiler (src/profiler) tells the unwinder about its life cycle: the interface is the
 * unwinder's, the profiler only calls it.
 *
 * @module
 */

import type { ProcessEvent, UnwindMaps } from "../bpf/mod.ts";
import type { ProcessRecord, ProcessRecords } from "../process/mod.ts";

/** What the profiler tells the unwinder (src/unwind) about its life cycle. */
export interface UnwinderHooks {
  /**
   * The BPF object is loaded: start serving its maps. Records of process images come from
   * `records` (subscribe with its `onChange`).
   */
  attach(maps: UnwindMaps, records: ProcessRecords): void;
  /**
   * An event from BPF, after the records handled it.
   *
   * @param e The event.
   * @param record The record it is about, when there is one.
   */
  event(e: ProcessEvent, record: ProcessRecord | undefined): void;
  /** A window ended; these records had samples in it. */
  windowEnded(sampled: ReadonlySet<ProcessRecord>): void;
  /**
   * The profiler stops: stop touching the maps and release everything (builds in flight are
   * abandoned). Called after sampling stops and before the final window is emitted; the maps are
   * closed after that window.
   */
  close(): Promise<void> | void;
}
