// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * OTLP traces of the agent's own work, with the OpenTelemetry JS SDK.
 *
 * @module
 */

import {
  type Attributes,
  ROOT_CONTEXT,
  type Span,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
// The SDK, its resources and the exporters are imported when tracing starts: they are about
// 20 MiB of the agent's resident memory (the gRPC exporter most), which an agent without
// --otlp-address should not carry.
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import client from "prom-client";
import { registry } from "../metrics/mod.ts";
import { waitAtMost } from "../async/mod.ts";

/** What {@link startTracing} needs. */
export interface TracingOptions {
  /** `--otlp-address`: `host:port` or a URL; empty turns tracing off. */
  address: string;
  /** `--otlp-exporter`. */
  exporter: "grpc" | "http" | "stdout";
  /** `--node`: the `host.name` and `service.instance.id` resource attributes. */
  node: string;
  /** The agent's version. */
  version: string;
  /** The agent's git revision. */
  revision: string;
  /** Where export failures are told (one warning per outage). */
  log: {
    warn(msg: string, props: Record<string, unknown>): void;
    info(msg: string, props: Record<string, unknown>): void;
  };
  /** The exporter, for tests. @default from `exporter` and `address` */
  spanExporter?: SpanExporter;
}

/** A running tracer provider; {@link Tracing.shutdown} flushes what is queued. */
export interface Tracing {
  /** Flushes (bounded by the export timeout) and stops. */
  shutdown(): Promise<void>;
}

const tracingMetrics = {
  spans: new client.Counter({
    name: "parca_agent_otlp_spans_total",
    help: "Spans of the agent's own work handed to the OTLP exporter, by export result.",
    labelNames: ["result"] as const,
    registers: [registry],
  }),
};

/** Spans queued at most; beyond it new spans are dropped, so a dead collector costs no memory. */
const MAX_QUEUE = 2048;
/** One export may take this long; the processor never waits for more. */
const EXPORT_TIMEOUT_MS = 10_000;

/**
 * How long {@link Tracing.shutdown} waits for the last export: a small part of the agent's 2 s
 * shutdown deadline (src/agent), which a collector that is down must not use up.
 */
const SHUTDOWN_WAIT_MS = 500;

let tracer: Tracer | undefined;
let currentWindow: Span | undefined;

/**
 * The OTLP endpoint of `--otlp-address`: a URL is used as given; `host[:port]` becomes
 * `http://host:port` (plaintext, as a collector's default receivers), with the standard port
 * (4317 gRPC, 4318 HTTP) when none is given, and `/v1/traces` for HTTP.
 *
 * @param address `host`, `host:port` or a URL.
 * @param exporter The protocol.
 * @returns The URL the exporter is given.
 */
export function endpointUrl(address: string, exporter: "grpc" | "http"): string {
  if (/^https?:\/\//.test(address)) return address;
  const url = new URL(`http://${address}`);
  if (!url.port) url.port = exporter === "http" ? "4318" : "4317";
  return exporter === "http" ? `${url.origin}/v1/traces` : url.origin;
}

/**
 * Counts every export and logs one warning when exports start failing (a collector that is
 * down or refuses) and one line when they work again; the SDK itself stays silent.
 */
class ObservedExporter implements SpanExporter {
  #failing = false;
  constructor(
    readonly inner: SpanExporter,
    readonly log: TracingOptions["log"],
    readonly target: string,
  ) {}

  export(spans: ReadableSpan[], done: (r: { code: number; error?: Error }) => void): void {
    this.inner.export(spans, (result) => {
      const ok = result.code === 0;
      tracingMetrics.spans.inc({ result: ok ? "exported" : "failed" }, spans.length);
      if (!ok && !this.#failing) {
        this.log.warn("cannot export traces; spans are dropped until the collector answers", {
          address: this.target,
          error: result.error?.message ?? "unknown",
        });
      } else if (ok && this.#failing) {
        this.log.info("exporting traces again", { address: this.target });
      }
      this.#failing = !ok;
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * Starts exporting the agent's spans over OTLP when `address` is set (and for `stdout`); until
 * then, and when it is not, every function of this module is a no-op.
 *
 * Spans go through a batch processor with a bounded queue: the profiling loop only records
 * them, exports run in the background, and a collector that is down or slow drops spans (counted
 * in `parca_agent_otlp_spans_total{result="failed"}`) and never delays a window.
 *
 * @param opts Where to and who we are.
 * @returns The provider, or undefined when tracing is off (then no SDK module is loaded).
 */
export async function startTracing(opts: TracingOptions): Promise<Tracing | undefined> {
  if (!opts.address && opts.exporter !== "stdout" && !opts.spanExporter) return undefined;
  const { BatchSpanProcessor, ConsoleSpanExporter, TracerProvider } = await import(
    "@opentelemetry/sdk-trace"
  );
  const { detectResources, envDetector, resourceFromAttributes } = await import(
    "@opentelemetry/resources"
  );
  let exporter = opts.spanExporter;
  let target = opts.address;
  if (!exporter) {
    if (opts.exporter === "stdout") {
      exporter = new ConsoleSpanExporter();
      target = "stdout";
    } else {
      target = endpointUrl(opts.address, opts.exporter);
      exporter = opts.exporter === "http"
        ? new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter({
          url: target,
          timeoutMillis: EXPORT_TIMEOUT_MS,
        })
        : new (await import("@opentelemetry/exporter-trace-otlp-grpc")).OTLPTraceExporter({
          url: target,
          timeoutMillis: EXPORT_TIMEOUT_MS,
        });
    }
  }
  const resource = resourceFromAttributes({
    "service.name": "parca-agent",
    "service.version": opts.version,
    "service.instance.id": opts.node,
    "host.name": opts.node,
    "vcs.ref.head.revision": opts.revision,
  }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new TracerProvider({
    resource,
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new ObservedExporter(exporter, opts.log, target),
        maxQueueSize: MAX_QUEUE,
        maxExportBatchSize: 512,
        scheduledDelayMillis: 5000,
        exportTimeoutMillis: EXPORT_TIMEOUT_MS,
      }),
    ],
  });
  tracer = provider.getTracer("parca-agent", opts.version);
  return {
    async shutdown() {
      tracer = undefined;
      currentWindow = undefined;
      // A collector that is down must not hold up the agent's exit: give the last flush a moment.
      await waitAtMost(provider.shutdown().catch(() => {}), SHUTDOWN_WAIT_MS);
    },
  };
}

/** Epoch milliseconds of a `performance.now()` reading. */
function epochMs(perfNow: number): number {
  return performance.timeOrigin + perfNow;
}

/**
 * Starts the span of one profiling window (`profiling.window`); the spans recorded with
 * `{ inWindow: true }` until {@link endWindowSpan} are its children.
 *
 * @param startedAtMs When the window began sampling, in epoch milliseconds (`Date.now()`).
 * @param attributes Attributes of the window.
 */
export function beginWindowSpan(startedAtMs: number, attributes: Attributes = {}): void {
  if (!tracer) return;
  currentWindow?.end(epochMs(performance.now()));
  currentWindow = tracer.startSpan("profiling.window", { startTime: startedAtMs, attributes });
}

/**
 * Ends the span of the current profiling window.
 *
 * @param attributes Attributes known at its end (processes, samples, ...).
 */
export function endWindowSpan(attributes: Attributes = {}): void {
  if (!currentWindow) return;
  currentWindow.setAttributes(attributes);
  currentWindow.end(epochMs(performance.now()));
  currentWindow = undefined;
}

/**
 * Records a span of work that has just finished, from `startedAt` until now: one line after the
 * work, so call sites stay as they are.
 *
 * @param name The span name (`profiling.drain`, `unwind.table_build`, `debuginfo.upload`, ...).
 * @param startedAt When it began, a `performance.now()` reading.
 * @param attributes Its attributes.
 * @param opts `inWindow`: a child of the current window span; `error`: it failed.
 *
 * @example After a drain
 * ```ts
 * import { recordSpan } from "./tracing.ts";
 * const t0 = performance.now();
 * // ... the work ...
 * recordSpan("profiling.drain", t0, { entries: 42 }, { inWindow: true });
 * ```
 */
export function recordSpan(
  name: string,
  startedAt: number,
  attributes: Attributes = {},
  opts: { inWindow?: boolean; error?: unknown } = {},
): void {
  if (!tracer) return;
  const parent = opts.inWindow && currentWindow
    ? trace.setSpan(ROOT_CONTEXT, currentWindow)
    : undefined;
  const span = tracer.startSpan(name, { startTime: epochMs(startedAt), attributes }, parent);
  if (opts.error !== undefined) {
    const message = opts.error instanceof Error ? opts.error.message : String(opts.error);
    span.setStatus({ code: SpanStatusCode.ERROR, message });
  }
  // Explicit: without it the SDK ends a span at its start time plus the age of the span object.
  span.end(epochMs(performance.now()));
}

/** Whether spans are being recorded (so that call sites can skip computing attributes). */
export function tracingEnabled(): boolean {
  return tracer !== undefined;
}
