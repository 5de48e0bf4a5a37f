// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Metrics of the HTTP server, registered in the agent's one registry: what its connection bounds,
// timeouts and request checks refused, so an operator sees an attack (or a too-low bound).

import client from "prom-client";
import { registry } from "../metrics/mod.ts";

/** Metrics of the HTTP server. */
export const httpMetrics = {
  /** Connections open now. */
  connectionsOpen: new client.Gauge({
    name: "parca_agent_http_connections_open",
    help: "HTTP connections open now.",
    registers: [registry],
  }),
  /** Connections the server closed or refused, by reason. */
  connectionsClosed: new client.Counter({
    name: "parca_agent_http_connections_closed_total",
    help: "HTTP connections the server closed or refused itself, by reason: limit (all busy), " +
      "evicted (idle, to make room), header_timeout, write_timeout, bad_request, accept_error.",
    labelNames: ["reason"] as const,
    registers: [registry],
  }),
  /** Requests refused by the Host check. */
  hostRefused: new client.Counter({
    name: "parca_agent_http_host_refused_total",
    help: "HTTP requests refused because their Host header is not allowed (DNS rebinding).",
    registers: [registry],
  }),
  /** /query requests refused, by reason. */
  queriesRefused: new client.Counter({
    name: "parca_agent_http_queries_refused_total",
    help: "/query requests refused, by reason: too_many (waiting at once), match_budget.",
    labelNames: ["reason"] as const,
    registers: [registry],
  }),
};
