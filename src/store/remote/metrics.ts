// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Metrics of the remote store and the debuginfo uploader, registered into the agent's registry
 * (`/metrics`). They live here rather than in `src/metrics/mod.ts` so that the remote client's
 * counters are reviewed with the code that counts them.
 *
 * @module
 */

import client from "prom-client";
import { registry } from "../../metrics/mod.ts";

/** Counters and gauges of the remote store. */
export const remoteMetrics = {
  /** WriteRaw calls, by final gRPC code (`ok`, `unavailable`, ...). */
  writes: new client.Counter({
    name: "parca_agent_remote_store_writes_total",
    help: "WriteRaw calls to the remote store, by final status code (after retries).",
    labelNames: ["code"] as const,
    registers: [registry],
  }),
  /** Time of one WriteRaw call, retries included. */
  writeSeconds: new client.Histogram({
    name: "parca_agent_remote_store_write_duration_seconds",
    help: "Time of one WriteRaw call to the remote store, retries included.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  }),
  /** Bytes of WriteRaw messages accepted by the server (protobuf, before gRPC framing). */
  sentBytes: new client.Counter({
    name: "parca_agent_remote_store_sent_bytes_total",
    help: "Bytes of WriteRaw request messages the server accepted (protobuf encoding).",
    registers: [registry],
  }),
  /** Profiles accepted by the server. */
  sentProfiles: new client.Counter({
    name: "parca_agent_remote_store_sent_profiles_total",
    help: "Per-process profiles the remote store accepted.",
    registers: [registry],
  }),
  /** Samples (sum of samples/count) accepted by the server. */
  sentSamples: new client.Counter({
    name: "parca_agent_remote_store_sent_samples_total",
    help: "Samples (the sum of samples/count values) in profiles the remote store accepted.",
    registers: [registry],
  }),
  /** Profiles dropped before the server accepted them, by reason. */
  droppedProfiles: new client.Counter({
    name: "parca_agent_remote_store_dropped_profiles_total",
    help:
      "Profiles dropped before the remote store accepted them, by reason (pending_full: the oldest were dropped to stay under the pending limit; rejected: the server refused the batch; shutdown).",
    labelNames: ["reason"] as const,
    registers: [registry],
  }),
  /** Bytes dropped, by reason (same reasons as the profiles). */
  droppedBytes: new client.Counter({
    name: "parca_agent_remote_store_dropped_bytes_total",
    help: "Estimated bytes of the profiles dropped before the remote store accepted them.",
    labelNames: ["reason"] as const,
    registers: [registry],
  }),
  /** Data waiting to be sent (queued and in flight). */
  pendingBytes: new client.Gauge({
    name: "parca_agent_remote_store_pending_bytes",
    help: "Estimated bytes of profiles waiting for the remote store (queued and in flight).",
    registers: [registry],
  }),
  /** Profiles waiting to be sent. */
  pendingProfiles: new client.Gauge({
    name: "parca_agent_remote_store_pending_profiles",
    help: "Profiles waiting for the remote store (queued and in flight).",
    registers: [registry],
  }),
  /** Unary attempts that failed and were retried. */
  retries: new client.Counter({
    name: "parca_agent_remote_store_rpc_retries_total",
    help: "Unary gRPC attempts that failed with a retryable code and were retried.",
    labelNames: ["method", "code"] as const,
    registers: [registry],
  }),
  /** Debuginfo uploads by outcome. */
  debuginfoUploads: new client.Counter({
    name: "parca_agent_debuginfo_uploads_total",
    help:
      "Debuginfo jobs by outcome (uploaded, not_wanted, already_exists, failed, no_file, queue_full).",
    labelNames: ["outcome"] as const,
    registers: [registry],
  }),
  /** Debuginfo bytes uploaded. */
  debuginfoUploadBytes: new client.Counter({
    name: "parca_agent_debuginfo_upload_bytes_total",
    help: "Bytes of debuginfo files uploaded.",
    registers: [registry],
  }),
};
