// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The flame graph UI on the agent's own port: `/ui?query={selector}` shows the matching
 * profiles of a time range (last window, 1 m, 5 m, 15 m) merged and symbolized, as a flame graph
 * (d3-flame-graph, served from the agent's files) with click-to-zoom and search, a table of the
 * top functions, the series' labels, downloads (pprof, folded stacks) and a diff against the
 * range before. Profiles come from {@link ProfileHistory}, bounded in bytes by
 * `--http-ui-history-size`.
 *
 * @example
 * ```ts ignore
 * import { ProfileHistory, UiHandler } from "./mod.ts";
 * const history = new ProfileHistory(32 << 20);
 * const ui = new UiHandler({ history, profilingDurationMs: 10_000,
 *   symbolize: (entry, profile) => local.symbolizeCopy({ ...entry, profile }) });
 * // startHttpServer({ ..., ui });
 * ```
 *
 * @module
 */

export { type HistoryEntry, ProfileHistory } from "./history.ts";
export { RANGES, UiHandler, type UiOptions } from "./handler.ts";
export {
  diffTree,
  FlameAggregate,
  type FlameFrame,
  type FlameNode,
  type FlameStack,
  flameTree,
  foldedStacks,
  profileStacks,
  topFunctions,
  type TopRow,
} from "./flame.ts";
export { mergeProfiles } from "./merge.ts";
