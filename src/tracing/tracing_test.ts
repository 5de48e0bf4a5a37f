// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import {
  type OtlpReceiver,
  startGrpcReceiver,
  startHttpReceiver,
} from "../../tests/_lib/otlp_receiver.ts";
import { registry } from "../metrics/mod.ts";
import {
  beginWindowSpan,
  endpointUrl,
  endWindowSpan,
  recordSpan,
  startTracing,
  tracingEnabled,
} from "./mod.ts";

const warnings: string[] = [];
const log = {
  warn: (msg: string) => warnings.push(msg),
  info: (_msg: string) => {},
};

async function exportTo(exporter: "grpc" | "http", rx: OtlpReceiver): Promise<void> {
  const tracing = await startTracing({
    address: rx.address,
    exporter,
    node: "node-a",
    version: "1.2.3",
    revision: "abc123",
    log,
  });
  ok(tracing && tracingEnabled());
  // The window began sampling before the drain (by a profiling duration in the agent).
  const windowStart = Date.now() - 1000;
  beginWindowSpan(windowStart, { "profiling.duration_ms": 10000 });
  const t0 = performance.now();
  recordSpan("profiling.drain", t0, { "profiling.entries": 7 }, { inWindow: true });
  endWindowSpan({ "profiling.processes": 3 });
  recordSpan("debuginfo.upload", t0, { "debuginfo.build_id": "b1" }, { error: new Error("nope") });
  await tracing.shutdown();
  ok(!tracingEnabled());
}

for (const exporter of ["grpc", "http"] as const) {
  Deno.test(`startTracing() exports spans over OTLP/${exporter} that a receiver decodes`, async () => {
    const rx = exporter === "grpc" ? await startGrpcReceiver() : startHttpReceiver();
    try {
      await exportTo(exporter, rx);
      ok(rx.requests >= 1, `requests: ${rx.requests}`);
      const byName = new Map(rx.spans.map((s) => [s.name, s]));
      deepStrictEqual([...byName.keys()].sort(), [
        "debuginfo.upload",
        "profiling.drain",
        "profiling.window",
      ]);
      const window = byName.get("profiling.window")!;
      const drain = byName.get("profiling.drain")!;
      equal(drain.parentSpanId, window.spanId);
      equal(drain.traceId, window.traceId);
      equal(drain.attributes["profiling.entries"], 7n);
      equal(window.attributes["profiling.processes"], 3n);
      equal(window.attributes["profiling.duration_ms"], 10000n);
      ok(
        window.startNanos <= drain.startNanos && drain.startNanos <= drain.endNanos &&
          drain.endNanos <= window.endNanos,
        JSON.stringify(
          [window.startNanos, drain.startNanos, drain.endNanos, window.endNanos].map(String),
        ),
      );
      // The window began a second before its end.
      ok(window.endNanos - window.startNanos >= 999_000_000n);
      const upload = byName.get("debuginfo.upload")!;
      equal(upload.parentSpanId, "");
      equal(upload.statusCode, 2); // STATUS_CODE_ERROR
      equal(upload.statusMessage, "nope");
      equal(window.scope, "parca-agent");
      const r = window.resource;
      equal(r["service.name"], "parca-agent");
      equal(r["service.version"], "1.2.3");
      equal(r["host.name"], "node-a");
      equal(r["service.instance.id"], "node-a");
      equal(r["vcs.ref.head.revision"], "abc123");
    } finally {
      await rx.close();
    }
  });
}

Deno.test("a collector that is down drops spans and is told once", async () => {
  // A port nothing listens on.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  warnings.length = 0;
  const tracing = (await startTracing({
    address: `127.0.0.1:${port}`,
    exporter: "http",
    node: "n",
    version: "v",
    revision: "r",
    log,
  }))!;
  // Far more spans than the queue holds: they are dropped, not kept.
  for (let i = 0; i < 5000; i++) recordSpan("profiling.drain", performance.now());
  // The batch goes out after the processor's delay and fails after the exporter's retries.
  for (let i = 0; i < 300 && warnings.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  await tracing.shutdown();
  equal(warnings.filter((w) => w.startsWith("cannot export traces")).length, 1, warnings.join());
  const failed = (await registry.getSingleMetric("parca_agent_otlp_spans_total")!.get()).values
    .find((v) => v.labels.result === "failed");
  ok(failed && failed.value >= 1, JSON.stringify(failed));
});

Deno.test("recordSpan() and the window spans do nothing when tracing is off", async () => {
  equal(
    await startTracing({
      address: "",
      exporter: "grpc",
      node: "n",
      version: "v",
      revision: "r",
      log,
    }),
    undefined,
  );
  ok(!tracingEnabled());
  beginWindowSpan(Date.now());
  recordSpan("x", performance.now());
  endWindowSpan();
});

Deno.test("endpointUrl() adds the scheme, the standard port and the HTTP path", () => {
  equal(endpointUrl("collector:4317", "grpc"), "http://collector:4317");
  equal(endpointUrl("collector", "grpc"), "http://collector:4317");
  equal(endpointUrl("collector", "http"), "http://collector:4318/v1/traces");
  equal(
    endpointUrl("https://c.example.com/otlp/v1/traces", "http"),
    "https://c.example.com/otlp/v1/traces",
  );
});
