// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import client from "prom-client";
import { registry } from "../metrics/mod.ts";

/** Metrics of the interpreter unwinders and JIT symbolization. */
export const interpMetrics = {
  processes: new client.Counter({
    name: "parca_agent_interpreter_processes_total",
    help: "Processes whose interpreter frames BPF walks, by interpreter.",
    labelNames: ["interpreter"] as const,
    registers: [registry],
  }),
  frames: new client.Counter({
    name: "parca_agent_interpreter_frames_total",
    help: "Distinct interpreter frames of each window named from the process's memory, or not.",
    labelNames: ["result"] as const,
    registers: [registry],
  }),
  seconds: new client.Counter({
    name: "parca_agent_interpreter_seconds_total",
    help: "Time the agent spent on interpreters: detecting them (detect) and naming frames (name).",
    labelNames: ["op"] as const,
    registers: [registry],
  }),
  errors: new client.Counter({
    name: "parca_agent_interpreter_errors_total",
    help: "Interpreter processes that could not be walked, by reason.",
    labelNames: ["kind"] as const,
    registers: [registry],
  }),
};
