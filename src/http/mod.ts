// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The agent's HTTP server, as the reference agent's: an HTML status page on `/`, `/query` for the
 * next profile matching a label selector, `/metrics`, `/healthy` and `/ready`.
 *
 * The profiler publishes every profile it produces on a {@link ProfileBus}; `/query` waits there
 * for the next one whose labels match a Prometheus-style selector ({@link parseSelector}), for at
 * most one profiling window plus a second. Profiles are never kept. The pages escape every value,
 * since process names and command lines are chosen by whoever runs a process, and are served
 * with a Content-Security-Policy that forbids scripts.
 *
 * Connections are accepted by the server's own loop ({@link DEFAULT_CONNECTION_LIMITS}): bounded
 * in number, closed when request headers are slow to come or a response is not read, and an
 * accept failure (EMFILE) never ends the listener. Requests whose `Host` is not the agent's are
 * refused (DNS rebinding). Further routes (a UI) are passed in `routes`.
 *
 * @example Serving the status page and profiles
 * ```ts
 * import { ProfileBus, startHttpServer } from "./mod.ts";
 *
 * const bus = new ProfileBus();
 * const server = await startHttpServer({
 *   address: "127.0.0.1:0",
 *   bus,
 *   profilingDurationMs: 10_000,
 *   renderProfileText: (p) => JSON.stringify(p, null, 2),
 *   status: {
 *     ready: () => true,
 *     snapshot: () => ({
 *       profilerName: "parca_agent_cpu",
 *       samplingFrequencyHz: 19,
 *       profilingDurationMs: 10_000,
 *       processes: [],
 *       config: "",
 *       flags: [],
 *     }),
 *   },
 * });
 * // The profiler then calls, once per profile:
 * bus.publish({ labels: { pid: "42" }, pprof: new Uint8Array(), profile: {} });
 * await server.shutdown();
 * ```
 *
 * @module
 */

export { escapeHtml, htmlPage, labelChips } from "./_html.ts";
export { ProfileBus, type PublishedProfile } from "./profile_bus.ts";
export { type Matcher, matches, type MatchType, parseSelector, SelectorError } from "./selector.ts";
export {
  type HttpServer,
  type HttpServerOptions,
  MAX_QUERY_WAITS,
  parseListenAddress,
  type RouteHandler,
  startHttpServer,
  type StatusSnapshot,
  type StatusSource,
} from "./server.ts";
export { type ConnectionLimits, DEFAULT_CONNECTION_LIMITS } from "./_connections.ts";
