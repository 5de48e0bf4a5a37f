// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Where profiles go: the local directory store (and, later, the remote Parca store).
 *
 * @example
 * ```ts ignore
 * import { LocalStore } from "./mod.ts";
 * const store = await LocalStore.open("/var/lib/profiles");
 * await store.write({ pid: 1, name: "parca_agent_cpu", timeNanos: 0n, pprof: new Uint8Array() });
 * ```
 *
 * @module
 */

export { LocalStore, type StoredProfile } from "./local.ts";
export {
  type BatchWriterLogger,
  type BatchWriterOptions,
  DEFAULT_MAX_PENDING_BYTES,
  executableInfos,
  RemoteBatchWriter,
  remoteErrorHint,
  seriesLabels,
} from "./remote/batch_writer.ts";
export {
  authInterceptor,
  isRetryable,
  loggingInterceptor,
  retryInterceptor,
  type RetryOptions,
  type RpcLogger,
  tlsSetupError,
} from "./remote/interceptors.ts";
export { remoteMetrics } from "./remote/metrics.ts";
export {
  createRemoteTransport,
  MAX_MESSAGE_BYTES,
  readBearerToken,
  type RemoteTransportOptions,
} from "./remote/transport.ts";
