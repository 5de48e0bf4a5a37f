// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The interceptors of the remote-store transport, in the order they are installed:
 * `[retry, auth, logging]`. The first sees a call first, so every retried attempt passes through
 * auth (re-authorized) and logging (each attempt logged) again.
 *
 * @module
 */

import { toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { remoteMetrics } from "./metrics.ts";

/** The subset of a LogTape logger the interceptors write to. */
export interface RpcLogger {
  /** Logs one record at info level. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Logs one record at debug level. */
  debug(message: string, properties?: Record<string, unknown>): void;
}

/** Options of {@link retryInterceptor}. */
export interface RetryOptions {
  /**
   * Attempts in all, the first included.
   *
   * @default {10}
   */
  maxAttempts?: number;
  /**
   * Delay before the first retry; each later one doubles, up to `maxBackoffMs`.
   *
   * @default {500}
   */
  initialBackoffMs?: number;
  /**
   * Longest delay between attempts.
   *
   * @default {10000}
   */
  maxBackoffMs?: number;
  /** Told of each retry (for logs). */
  log?: RpcLogger;
  /** Random source in [0, 1), for tests. @default Math.random */
  random?: () => number;
}

/** Codes worth another attempt: the server or the path to it may be back soon. */
const RETRYABLE = new Set<Code>([
  Code.Unavailable,
  Code.ResourceExhausted,
  Code.Internal,
  Code.DeadlineExceeded,
  Code.Canceled,
]);

/**
 * Whether an error is worth another attempt.
 *
 * Canceled and DeadlineExceeded are retried only when the caller's own signal has not fired:
 * then they come from the connection (node:http2 reports a connection dropped mid-call as
 * Canceled or Internal "socket ended", see prototype/README.md §3) or from the server.
 *
 * @param e The error, normalized.
 * @param signal The call's signal (aborted by the caller's cancel or deadline).
 * @returns True if the call may be tried again.
 */
export function isRetryable(e: ConnectError, signal: AbortSignal): boolean {
  return RETRYABLE.has(e.code) && !signal.aborted && tlsSetupError(e) === undefined;
}

/**
 * Recognizes TLS set-up failures, which node:http2 reports as Internal like a dropped
 * connection, but which another attempt a moment later cannot fix.
 *
 * @param e The error, normalized.
 * @returns `certificate` (the server's certificate was rejected), `handshake` (no TLS on the
 *   other side, or another protocol), or undefined for anything else.
 */
export function tlsSetupError(e: ConnectError): "certificate" | "handshake" | undefined {
  const text = `${e.rawMessage} ${(e.cause as { code?: string } | undefined)?.code ?? ""}`;
  if (/certificate|self[- ]signed|CERT_|unable to verify/i.test(text)) return "certificate";
  if (/wrong version number|packet length too long|EPROTO|ssl3_get_record/i.test(text)) {
    return "handshake";
  }
  return undefined;
}

/**
 * The call's timeout in ms, from the header the transport derived from `timeoutMs` before the
 * interceptors ran: `grpc-timeout` (gRPC, e.g. `300000m`) or `connect-timeout-ms` (the Connect
 * protocol of the in-process router transport that unit tests use).
 */
function callTimeoutMs(header: Headers): number | undefined {
  const connect = header.get("connect-timeout-ms");
  if (connect !== null && /^\d{1,10}$/.test(connect)) return Number(connect);
  const m = /^(\d{1,8})([HMSmun])$/.exec(header.get("grpc-timeout") ?? "");
  if (!m) return undefined;
  const ms: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
  return Number(m[1]) * ms[m[2]];
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Retries unary calls that fail with a retryable code ({@link isRetryable}), with exponential
 * backoff and jitter, within the call's deadline (`timeoutMs`, which is
 * `--remote-store-rpc-unary-timeout` for the agent's calls: the timeout includes retries).
 *
 * Streaming calls pass through untouched: their request stream cannot be replayed. When the
 * next delay would pass the deadline, the last error is thrown as it is, so the caller sees the
 * cause (`connect ECONNREFUSED`) rather than a bare deadline.
 *
 * connect-es leaves retries to applications on purpose (connectrpc/connect-es#987).
 *
 * @param options Attempts and backoff.
 * @returns The interceptor.
 *
 * @example
 * ```ts
 * import { createRouterTransport } from "@connectrpc/connect";
 * import { retryInterceptor } from "./interceptors.ts";
 * const transport = createRouterTransport(() => {}, {
 *   transport: { interceptors: [retryInterceptor({ maxAttempts: 3 })] },
 * });
 * ```
 */
export function retryInterceptor(options: RetryOptions = {}): Interceptor {
  const maxAttempts = options.maxAttempts ?? 10;
  const initial = options.initialBackoffMs ?? 500;
  const max = options.maxBackoffMs ?? 10_000;
  const random = options.random ?? Math.random;
  return (next) => async (req) => {
    if (req.stream) return await next(req);
    const started = Date.now();
    const timeoutMs = callTimeoutMs(req.header);
    const deadline = timeoutMs === undefined ? Infinity : started + timeoutMs;
    for (let attempt = 1;; attempt++) {
      try {
        return await next(req);
      } catch (e) {
        const err = ConnectError.from(e);
        if (attempt >= maxAttempts || !isRetryable(err, req.signal)) throw err;
        // "Equal jitter": half the exponential delay plus a random half, so that many agents
        // cut off by the same outage do not come back in lockstep.
        const exp = Math.min(max, initial * 2 ** (attempt - 1));
        const delay = exp / 2 + random() * (exp / 2);
        if (Date.now() + delay >= deadline) throw err;
        remoteMetrics.retries.inc({ method: req.method.name, code: Code[err.code] });
        options.log?.debug("retrying {method} after {code}", {
          method: req.method.name,
          code: Code[err.code],
          error: err.rawMessage,
          attempt,
          delayMs: Math.round(delay),
        });
        if (!(await sleep(delay, req.signal))) throw err;
      }
    }
  };
}

/**
 * Adds `authorization: Bearer <token>` to every call, as Parca's own clients do (the header is
 * sent over plaintext too: the OSS server ignores it, proxies in front of it check it).
 *
 * The token is read through a function so it is never copied into a log-visible object; the
 * interceptor itself never logs.
 *
 * @param token Returns the token; "" sends no header.
 * @returns The interceptor.
 *
 * @example
 * ```ts
 * import { authInterceptor } from "./interceptors.ts";
 * const auth = authInterceptor(() => Deno.env.get("PARCA_BEARER_TOKEN") ?? "");
 * ```
 */
export function authInterceptor(token: () => string): Interceptor {
  return (next) => async (req) => {
    const t = token();
    if (t !== "") req.header.set("authorization", `Bearer ${t}`);
    return await next(req);
  };
}

/**
 * Logs each call attempt at info level: method, status code, duration and message bytes
 * (protobuf encoding of the request and response messages). Headers are never logged, so the
 * bearer token cannot appear. Errors are rethrown after logging.
 *
 * Sizes are measured by encoding the messages once more, which costs CPU; that is why this
 * interceptor is only installed with `--remote-store-rpc-logging-enable`.
 *
 * @param log Where the lines go.
 * @returns The interceptor.
 *
 * @example
 * ```ts
 * import { loggingInterceptor } from "./interceptors.ts";
 * const logging = loggingInterceptor({ info: () => {}, debug: () => {} });
 * ```
 */
export function loggingInterceptor(log: RpcLogger): Interceptor {
  return (next) => async (req) => {
    const t0 = performance.now();
    const method = `${req.method.parent.typeName}/${req.method.name}`;
    let sent = 0;
    const done = (code: string, received: number, error?: string) => {
      log.info("rpc {method} {code}", {
        method,
        code,
        durationMs: Math.round((performance.now() - t0) * 10) / 10,
        requestBytes: sent,
        responseBytes: received,
        ...(error !== undefined ? { error } : {}),
      });
    };
    try {
      if (!req.stream) {
        sent = toBinary(req.method.input, req.message).length;
        const res = await next(req);
        if (!res.stream) done("OK", toBinary(req.method.output, res.message).length);
        return res;
      }
      const input = req.method.input;
      const counted = (async function* () {
        for await (const m of req.message) {
          sent += toBinary(input, m).length;
          yield m;
        }
      })();
      const res = await next({ ...req, message: counted });
      if (!res.stream) return res;
      const output = req.method.output;
      let received = 0;
      const message = (async function* () {
        try {
          for await (const m of res.message) {
            received += toBinary(output, m).length;
            yield m;
          }
          done("OK", received);
        } catch (e) {
          const err = ConnectError.from(e);
          done(Code[err.code], received, err.rawMessage);
          throw e;
        }
      })();
      return { ...res, message };
    } catch (e) {
      const err = ConnectError.from(e);
      done(Code[err.code], 0, err.rawMessage);
      throw e;
    }
  };
}
