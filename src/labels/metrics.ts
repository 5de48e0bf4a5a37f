// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Metrics of labelling and relabeling, registered in the agent's one registry. The two config
// reload gauges carry the reference agent's names, so existing alerts on them keep working.

import client from "prom-client";
import { registry } from "../metrics/mod.ts";

/** Metrics of the labels module. */
export const labelMetrics = {
  /** 1 when the last (re)load of the config file succeeded, 0 when it failed. */
  configLastReloadSuccessful: new client.Gauge({
    name: "parca_agent_config_last_reload_successful",
    help: "Whether the last configuration reload attempt was successful.",
    registers: [registry],
  }),
  /** Unix time of the last successful (re)load. */
  configLastReloadSuccessTimestamp: new client.Gauge({
    name: "parca_agent_config_last_reload_success_timestamp_seconds",
    help: "Timestamp of the last successful configuration reload.",
    registers: [registry],
  }),
  /** Failed metadata look-ups, by provider (docker, containerd, kubernetes, executable, ...). */
  metadataErrors: new client.Counter({
    name: "parca_agent_metadata_errors_total",
    help:
      "Metadata look-ups that failed, by provider; the labels of that provider are absent meanwhile.",
    labelNames: ["provider"] as const,
    registers: [registry],
  }),
  /** Label-set cache look-ups, by result (hit, miss). */
  cacheRequests: new client.Counter({
    name: "parca_agent_label_cache_requests_total",
    help: "Look-ups of cached per-process labels, by cache and result (hit, miss).",
    labelNames: ["cache", "result"] as const,
    registers: [registry],
  }),
  /** Series dropped by relabel rules (not profiled further in their window, not sent). */
  seriesDropped: new client.Counter({
    name: "parca_agent_relabel_dropped_series_total",
    help: "Series (process or thread label sets) dropped by relabel rules, per window.",
    registers: [registry],
  }),
  /** Kubernetes watch events received, by object kind and event type. */
  kubernetesEvents: new client.Counter({
    name: "parca_agent_kubernetes_watch_events_total",
    help: "Kubernetes watch events received, by kind (pod, node) and type (ADDED, ...).",
    labelNames: ["kind", "type"] as const,
    registers: [registry],
  }),
};
