// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Wiring of the remote Parca store (`--remote-store-*`, `--debuginfo-*`, `--telemetry-*`): the
 * transport, the batch writer and debuginfo uploader (as profile sinks), and the crash-reporting
 * supervisor. Kept apart from run.ts so the composition root only asks for sinks.
 *
 * @module
 */

import { createClient, type Transport } from "@connectrpc/connect";
import type { AgentFlags } from "../cli/mod.ts";
import { currentVersion } from "../cli/mod.ts";
import { DebuginfoUploader } from "../debuginfo/mod.ts";
import { DebuginfoService } from "../gen/parca/debuginfo/v1alpha1/debuginfo_pb.ts";
import { ProfileStoreService } from "../gen/parca/profilestore/v1alpha1/profilestore_pb.ts";
import { getLogger } from "../log/mod.ts";
import type { ProfileSink } from "../profiler/mod.ts";
import {
  createRemoteTransport,
  DEFAULT_MAX_PENDING_BYTES,
  readBearerToken,
  RemoteBatchWriter,
} from "../store/mod.ts";
import { crashMetadata, reexecCommand, reportPanic, superviseChild } from "../telemetry/mod.ts";

/** Flags this wiring makes work (added to run.ts's IMPLEMENTED_FLAGS). */
export const REMOTE_FLAGS: readonly string[] = [
  "remote-store-address",
  "remote-store-bearer-token",
  "remote-store-bearer-token-file",
  "remote-store-insecure",
  "remote-store-insecure-skip-verify",
  "remote-store-batch-write-interval",
  "remote-store-rpc-logging-enable",
  "remote-store-rpc-unary-timeout",
  "debuginfo-directories",
  "debuginfo-strip",
  "debuginfo-compress",
  "debuginfo-temp-dir",
  "debuginfo-upload-disable",
  "debuginfo-upload-max-parallel",
  "debuginfo-upload-timeout-duration",
  "debuginfo-upload-cache-duration",
  "debuginfo-disable-caching",
  "telemetry-disable-panic-reporting",
  "telemetry-stderr-buffer-size-kb",
];

/** The remote store's transport, from the flags. */
function transportFor(flags: AgentFlags): Transport {
  // Read once, at start: a missing token file is a start-up error, not a failure per call.
  const token = readBearerToken(flags.remoteStoreBearerToken, flags.remoteStoreBearerTokenFile);
  const rpcLog = getLogger("remote");
  return createRemoteTransport({
    address: flags.remoteStoreAddress,
    insecure: flags.remoteStoreInsecure,
    insecureSkipVerify: flags.remoteStoreInsecureSkipVerify,
    bearerToken: () => token,
    rpcLogging: flags.remoteStoreRpcLoggingEnable,
    log: {
      info: (m, p) => rpcLog.info(m, p ?? {}),
      debug: (m, p) => rpcLog.debug(m, p ?? {}),
    },
  });
}

/**
 * The pending-data bound: {@link DEFAULT_MAX_PENDING_BYTES} unless
 * `PROFILER_REMOTE_MAX_PENDING_BYTES` says otherwise (no flag of the reference agent sets it;
 * the end-to-end tests lower it to see drops within seconds).
 */
function maxPendingBytes(): number {
  const env = Deno.env.get("PROFILER_REMOTE_MAX_PENDING_BYTES");
  const n = env ? Number(env) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : DEFAULT_MAX_PENDING_BYTES;
}

/** The running remote store. */
export interface RemoteStore {
  /** Sinks to hand to the profiler: the batch writer, then the uploader (if enabled). */
  sinks: ProfileSink[];
  /**
   * Sends what is queued one last time and stops uploads, within `budgetMs` (default: the
   * writer's own bound on its last send).
   */
  stop(budgetMs?: number): Promise<void>;
}

/**
 * Starts the batch writer (and the debuginfo uploader unless `--debuginfo-upload-disable`).
 *
 * @param flags Parsed flags with `remoteStoreAddress` set.
 * @returns The sinks and a stop function.
 * @throws {Error} When the bearer token file cannot be read.
 */
export function startRemoteStore(flags: AgentFlags): RemoteStore {
  const transport = transportFor(flags);
  const log = getLogger("remote");
  const writer = new RemoteBatchWriter({
    client: createClient(ProfileStoreService, transport),
    intervalMs: flags.remoteStoreBatchWriteIntervalMs,
    writeTimeoutMs: Math.min(
      flags.remoteStoreRpcUnaryTimeoutMs,
      flags.remoteStoreBatchWriteIntervalMs,
    ),
    maxPendingBytes: maxPendingBytes(),
    log,
  });
  writer.start();
  const sinks: ProfileSink[] = [writer];
  let uploader: DebuginfoUploader | undefined;
  if (!flags.debuginfoUploadDisable) {
    uploader = new DebuginfoUploader({
      client: createClient(DebuginfoService, transport),
      directories: flags.debuginfoDirectories,
      maxParallel: flags.debuginfoUploadMaxParallel,
      timeoutMs: flags.debuginfoUploadTimeoutMs,
      unaryTimeoutMs: flags.remoteStoreRpcUnaryTimeoutMs,
      cacheMs: flags.debuginfoUploadCacheMs,
      disableCaching: flags.debuginfoDisableCaching,
      strip: flags.debuginfoStrip,
      compress: flags.debuginfoCompress,
      tempDir: flags.debuginfoTempDir,
      log: getLogger("debuginfo"),
    });
    sinks.push(uploader);
  }
  log.info("sending profiles to the remote store", {
    address: flags.remoteStoreAddress,
    tls: !flags.remoteStoreInsecure,
    batchIntervalMs: flags.remoteStoreBatchWriteIntervalMs,
    debuginfoUpload: uploader !== undefined,
  });
  return {
    sinks,
    async stop(budgetMs?: number) {
      await Promise.all([writer.stop(budgetMs), uploader?.stop(budgetMs)]);
    },
  };
}

/**
 * Whether this process should only supervise: a remote store is set and crash reporting is on
 * (the child gets `--telemetry-disable-panic-reporting`, so it does the work itself).
 *
 * @param flags Parsed flags.
 * @returns True for the supervising parent.
 */
export function shouldSupervise(flags: AgentFlags): boolean {
  return flags.remoteStoreAddress !== "" && !flags.telemetryDisablePanicReporting;
}

/**
 * Re-runs the agent as a child with the same runtime, script and flags plus
 * `--telemetry-disable-panic-reporting`, and reports its crash, if it crashes, to the remote
 * store's TelemetryService.
 *
 * @param flags Parsed flags.
 * @param args The command line the agent was given.
 * @param repoDir The checkout, for the revision in the report.
 * @returns The exit code: the child's.
 * @throws {Error} When the bearer token file cannot be read.
 */
export async function runSupervised(
  flags: AgentFlags,
  args: string[],
  repoDir: string,
): Promise<number> {
  const transport = transportFor(flags);
  const log = getLogger("telemetry");
  const { command, args: childArgs } = reexecCommand(args, ["--telemetry-disable-panic-reporting"]);
  return await superviseChild({
    command,
    args: childArgs,
    stderrBufferBytes: flags.telemetryStderrBufferSizeKb * 1024,
    log,
    report: (stderr, exit) =>
      reportPanic(
        transport,
        stderr,
        crashMetadata(currentVersion(repoDir), exit),
        Math.min(flags.remoteStoreRpcUnaryTimeoutMs, 30_000),
      ),
  });
}
