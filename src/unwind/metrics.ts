// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Metrics of the unwinder, registered in the agent's registry.
 *
 * @module
 */

import client from "prom-client";
import { registry } from "../metrics/mod.ts";

/** The unwinder's metrics. */
export const unwindMetrics = {
  /** Events read from the BPF ring buffer, by type. */
  events: new client.Counter({
    name: "parca_agent_unwind_events_total",
    help: "Events read from the BPF events ring buffer, by type (new_process, mappings_changed).",
    labelNames: ["type"] as const,
    registers: [registry],
  }),
  /** Failures, by kind. */
  errors: new client.Counter({
    name: "parca_agent_unwind_errors_total",
    help:
      "Unwinder failures by kind (open_file, table_build, load_process, too_many_mappings, ...).",
    labelNames: ["kind"] as const,
    registers: [registry],
  }),
  /** Tables built by wasm-unwind. */
  tablesBuilt: new client.Counter({
    name: "parca_agent_unwind_tables_built_total",
    help: "Unwind tables built (once per build ID).",
    registers: [registry],
  }),
  /** Time to build one table. */
  tableBuildSeconds: new client.Histogram({
    name: "parca_agent_unwind_table_build_duration_seconds",
    help: "Time to read a file and build its unwind table in a worker.",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  }),
  /** Where a table build's time goes, by step. */
  tableBuildPhaseSeconds: new client.Histogram({
    name: "parca_agent_unwind_table_build_phase_seconds",
    help: "Time of each step of a table build: queued (waiting for a free worker), wait (from " +
      "the post to the worker taking the job, which includes starting a worker), compile " +
      "(wasm-unwind, once per worker), read, build, load (decode and load into BPF).",
    labelNames: ["phase"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  }),
  /** From BPF's first event about a process to its tables being in BPF. */
  timeToTables: new client.Histogram({
    name: "parca_agent_unwind_time_to_tables_seconds",
    help: "Time from the first event about a process to its unwind tables being loaded.",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  }),
  /** Processes with mappings in BPF. */
  trackedProcesses: new client.Gauge({
    name: "parca_agent_unwind_tracked_processes",
    help: "Processes whose mappings are in BPF.",
    registers: [registry],
  }),
  /** Table builds running or queued in the worker pool. */
  buildsInFlight: new client.Gauge({
    name: "parca_agent_unwind_table_builds_in_flight",
    help: "Unwind table builds running or waiting for a worker.",
    registers: [registry],
  }),
  /** Kernel memory of the loaded tables. */
  tableBytes: new client.Gauge({
    name: "parca_agent_unwind_table_bytes",
    help: "Kernel memory of the unwind tables in BPF (their chunks of the row space), in bytes.",
    registers: [registry],
  }),
  /** Rows of all loaded tables. */
  loadedRows: new client.Gauge({
    name: "parca_agent_unwind_table_rows",
    help: "Rows of all unwind tables loaded in BPF (8 bytes each).",
    registers: [registry],
  }),
};
