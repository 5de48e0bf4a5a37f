// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The gRPC transport to the Parca server: real gRPC over HTTP/2 (connect-node's gRPC transport;
 * the server does not speak the Connect protocol), h2c with `--remote-store-insecure`, TLS
 * otherwise, with the interceptors `[retry, auth, logging]`.
 *
 * @module
 */

import { readRegularTextFile, SafeOpenError } from "../../safefs/mod.ts";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { lazyGrpcTransport } from "../../grpc/mod.ts";
import {
  authInterceptor,
  loggingInterceptor,
  retryInterceptor,
  type RetryOptions,
  type RpcLogger,
} from "./interceptors.ts";

/** A connection idle this long is closed by the agent (see {@link createRemoteTransport}). */
export const IDLE_CONNECTION_MS = 2000;

/** Largest message either way: the Parca server's own limit (`debuginfo.MaxMsgSize`). */
export const MAX_MESSAGE_BYTES = 64 << 20;

/** Options of {@link createRemoteTransport}; the fields mirror the `--remote-store-*` flags. */
export interface RemoteTransportOptions {
  /** `host:port` (`--remote-store-address`). */
  address: string;
  /** Plaintext HTTP/2 (h2c, prior knowledge) instead of TLS (`--remote-store-insecure`). */
  insecure: boolean;
  /** Accept any server certificate (`--remote-store-insecure-skip-verify`). */
  insecureSkipVerify: boolean;
  /** Returns the bearer token, "" for none. Never logged. */
  bearerToken: () => string;
  /** Log every call (`--remote-store-rpc-logging-enable`). */
  rpcLogging: boolean;
  /** Where RPC and retry lines go. */
  log: RpcLogger;
  /** Backoff settings; the defaults suit the agent, tests shorten them. */
  retry?: RetryOptions;
}

/**
 * Creates the transport every remote call of the agent goes through.
 *
 * Responses are not accepted compressed (`acceptCompression: []`): connect-node would otherwise
 * offer gzip and br, and gzipping every response ≥ 1 KiB cut throughput threefold in the
 * prototype for no gain (Parca's responses are tiny). Requests are sent uncompressed too: pprof
 * payloads are already gzipped. A connection idle for {@link IDLE_CONNECTION_MS} is closed (a
 * server's idle GOAWAY crashes Deno 2.9, see the code); pings every 30 s notice a dead peer
 * during long uploads; a refused or dropped connection is re-dialled by the next call.
 *
 * @param options Address, security, token and logging.
 * @returns A transport for `createClient`.
 *
 * @example
 * ```ts
 * import { createClient } from "@connectrpc/connect";
 * import { ProfileStoreService } from "../../gen/parca/profilestore/v1alpha1/profilestore_pb.ts";
 * import { createRemoteTransport } from "./transport.ts";
 * const transport = createRemoteTransport({
 *   address: "127.0.0.1:7070",
 *   insecure: true,
 *   insecureSkipVerify: false,
 *   bearerToken: () => "",
 *   rpcLogging: false,
 *   log: { info: () => {}, debug: () => {} },
 * });
 * const client = createClient(ProfileStoreService, transport);
 * ```
 */
export function createRemoteTransport(options: RemoteTransportOptions): Transport {
  const interceptors: Interceptor[] = [
    retryInterceptor({ log: options.log, ...options.retry }),
    authInterceptor(options.bearerToken),
  ];
  if (options.rpcLogging) interceptors.push(loggingInterceptor(options.log));
  return lazyGrpcTransport({
    baseUrl: `${options.insecure ? "http" : "https"}://${options.address}`,
    interceptors,
    acceptCompression: [],
    readMaxBytes: MAX_MESSAGE_BYTES,
    writeMaxBytes: MAX_MESSAGE_BYTES,
    // Close a connection idle for 2 s ourselves, before the server does: Parca (Go) sends GOAWAY
    // to connections idle for its --http-read-timeout (5 s by default), and Deno 2.9's
    // node:http2 aborts the whole process on a GOAWAY that follows earlier streams
    // (denoland/deno#36788). At one batch per 10 s this costs one TCP handshake per batch.
    idleConnectionTimeoutMs: IDLE_CONNECTION_MS,
    pingIntervalMs: 30_000,
    pingTimeoutMs: 15_000,
    nodeOptions: options.insecure ? {} : { rejectUnauthorized: !options.insecureSkipVerify },
  });
}

/**
 * Reads the bearer token: the value of `--remote-store-bearer-token` (or `$PARCA_BEARER_TOKEN`),
 * else the contents of `--remote-store-bearer-token-file` with surrounding whitespace trimmed, as
 * Parca Agent does.
 *
 * The file must be a regular file (symlinks followed) of at most {@link MAX_TOKEN_FILE_BYTES}: a
 * FIFO is refused rather than waited on, `/dev/zero` rather than read without end. A file that
 * holds only whitespace is an error, not "no token": the operator meant to authenticate.
 *
 * @param token The flag (or environment) value.
 * @param file The token file, "" for none.
 * @returns The token, "" for none.
 * @throws {Error} When the file cannot be read or is empty; the message names the file, never its
 *   contents.
 */
export function readBearerToken(token: string, file: string): string {
  if (token !== "" || file === "") return token;
  let text: string;
  try {
    text = readRegularTextFile(file, MAX_TOKEN_FILE_BYTES);
  } catch (e) {
    const detail = e instanceof SafeOpenError ? e.detail : (e as Error).message;
    throw new Error(`Cannot read --remote-store-bearer-token-file "${file}": ${detail}`, {
      cause: e,
    });
  }
  const t = text.trim();
  if (t === "") {
    throw new Error(`Cannot read --remote-store-bearer-token-file "${file}": the file is empty`);
  }
  return t;
}

/** Largest token file read: a bearer token (a JWT included) takes a few kilobytes at most. */
export const MAX_TOKEN_FILE_BYTES = 64 * 1024;
