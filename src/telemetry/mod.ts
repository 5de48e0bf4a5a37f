// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Crash reporting to the Parca server. With a remote store configured and
 * `--telemetry-disable-panic-reporting` off, the agent re-runs itself as a supervised child (with
 * that flag added); the parent passes the child's stderr through, keeps its last
 * `--telemetry-stderr-buffer-size-kb`, and when the child dies abnormally sends
 * TelemetryService.ReportPanic with that stderr and metadata (version, revision, kernel, arch),
 * then exits with the child's status.
 *
 * @example Keeping the tail of a stream
 * ```ts
 * import { TailBuffer } from "./mod.ts";
 * const tail = new TailBuffer(5);
 * tail.push(new TextEncoder().encode("hello world"));
 * console.assert(tail.text() === "world");
 * ```
 *
 * @module
 */

export {
  exitCodeOf,
  reexecCommand,
  superviseChild,
  type SuperviseOptions,
  type SupervisorLogger,
  TailBuffer,
} from "./supervisor.ts";
export { crashMetadata, reportPanic } from "./report.ts";
export { SUPERVISOR_PID_ENV, type SupervisorWatch, watchSupervisor } from "./_parent_death.ts";
