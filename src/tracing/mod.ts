// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Traces of the agent's own work over OTLP (`--otlp-address`, `--otlp-exporter=grpc|http|stdout`),
 * with the OpenTelemetry JS SDK: a `profiling.window` span per window with `profiling.drain`,
 * `profiling.build` and `profiling.write` children, and `unwind.table_build`,
 * `debuginfo.upload` and `remote.write` spans. Resource attributes: `service.name`
 * (`parca-agent`), `service.version`, `service.instance.id` and `host.name` (`--node`),
 * `vcs.ref.head.revision`, plus `$OTEL_RESOURCE_ATTRIBUTES`.
 *
 * Off unless `--otlp-address` is set: every function is then a no-op. Call sites record a span
 * in one line after the work ({@link recordSpan}); exports run in the background from a bounded
 * queue, so a collector that is down drops spans and never slows profiling.
 *
 * @example Tracing a piece of work
 * ```ts ignore
 * import { recordSpan, startTracing } from "./mod.ts";
 * const tracing = await startTracing({ address: "127.0.0.1:4317", exporter: "grpc", node: "n", version: "1", revision: "r", log: console });
 * const t0 = performance.now();
 * recordSpan("unwind.table_build", t0, { "unwind.rows": 28000 });
 * await tracing?.shutdown();
 * ```
 *
 * @module
 */

export {
  beginWindowSpan,
  endpointUrl,
  endWindowSpan,
  recordSpan,
  startTracing,
  type Tracing,
  tracingEnabled,
  type TracingOptions,
} from "./tracing.ts";
