// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { createClient, type Transport } from "@connectrpc/connect";
import { TelemetryService } from "../gen/parca/telemetry/v1alpha1/telemetry_pb.ts";

/**
 * The metadata of a crash report: what Parca Agent sends (version, revision, architecture,
 * kernel release, CPU cores) plus the runtime version and how the process ended.
 *
 * @param version The agent's version and git revision.
 * @param exit How the child ended, e.g. `signal SIGSEGV` or `exit code 1`.
 * @returns String pairs for ReportPanicRequest.metadata.
 */
export function crashMetadata(
  version: { version: string; revision: string; deno: string },
  exit: string,
): Record<string, string> {
  let kernel = "unknown";
  try {
    kernel = Deno.osRelease();
  } catch {
    // needs --allow-sys; the agent has --allow-all
  }
  return {
    version: version.version,
    revision: version.revision,
    deno: version.deno,
    arch: Deno.build.arch,
    os: Deno.build.os,
    kernel,
    cpu_cores: String(navigator.hardwareConcurrency),
    exit,
  };
}

/**
 * Sends one crash report.
 *
 * @param transport The remote-store transport.
 * @param stderr The crashed process's last stderr.
 * @param metadata From {@link crashMetadata}.
 * @param timeoutMs Deadline, retries included.
 */
export async function reportPanic(
  transport: Transport,
  stderr: string,
  metadata: Record<string, string>,
  timeoutMs: number,
): Promise<void> {
  await createClient(TelemetryService, transport).reportPanic({ stderr, metadata }, { timeoutMs });
}
