// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The remote batch writer: a profile sink that queues every per-process profile and, every
 * `--remote-store-batch-write-interval`, sends everything queued in one WriteRaw.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import {
  type ExecutableInfo,
  ExecutableInfoSchema,
  type Label,
  LabelSchema,
  LabelSetSchema,
  LoadSegmentSchema,
  ProfileStoreService,
  RawProfileSeriesSchema,
  type RawSample,
  RawSampleSchema,
  type WriteRawRequest,
  WriteRawRequestSchema,
} from "../../gen/parca/profilestore/v1alpha1/profilestore_pb.ts";
import type { ProcessProfile, ProfileSink } from "../../profiler/mod.ts";
import { recordSpan } from "../../tracing/mod.ts";
import { waitAtMost } from "../../async/mod.ts";
import { labelSetSize, rawSampleSize, seriesFieldSize } from "./_wire_size.ts";
import { tlsSetupError } from "./interceptors.ts";
import { remoteMetrics } from "./metrics.ts";
import { isValidLabelName } from "../../labels/mod.ts";

/**
 * Default bound on profiles waiting for the server (queued and in flight): 32 MiB of encoded
 * WriteRaw data. At the ~760 B of a per-process profile measured with 50 busy processes
 * (docs/benchmarks.md) that is about 44,000 profiles, some two hours of those 50 processes at the
 * default 10 s window. It is also half the server's 64 MiB message limit, so one request always
 * fits whatever has piled up.
 */
export const DEFAULT_MAX_PENDING_BYTES = 32 << 20;

/** Deadline of the last send at shutdown. */
const STOP_FLUSH_TIMEOUT_MS = 3000;

/** The logger the writer reports to; a LogTape `Logger` fits. */
export interface BatchWriterLogger {
  /** Logs at info level. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Logs at warning level. */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** Logs at debug level. */
  debug(message: string, properties?: Record<string, unknown>): void;
}

/** Options of {@link RemoteBatchWriter}. */
export interface BatchWriterOptions {
  /** A ProfileStoreService client over the remote transport. */
  client: Client<typeof ProfileStoreService>;
  /** Time between sends (`--remote-store-batch-write-interval`). */
  intervalMs: number;
  /**
   * Deadline of one WriteRaw, retries included. Kept at most one interval (as Parca Agent does)
   * so retries of one batch never hold back the next for long; what failed is re-queued.
   */
  writeTimeoutMs: number;
  /**
   * Bound on pending data, in encoded bytes; past it the oldest profiles are dropped.
   *
   * @default {DEFAULT_MAX_PENDING_BYTES}
   */
  maxPendingBytes?: number;
  /** Where warnings go. */
  log: BatchWriterLogger;
}

/** One queued profile. */
interface Pending {
  /** Identity of its label set (sorted pairs). */
  key: string;
  /** Its labels, `__name__` first. */
  labels: Label[];
  sample: RawSample;
  /** Upper bound of what it adds to a request: its own series entry. */
  bytes: number;
  samples: number;
}

/**
 * Turns a profile's labels into what the server accepts: `__name__` first, then the others by
 * name; names made valid Prometheus label names (invalid characters become `_`); labels with an
 * empty value dropped (Prometheus treats them as absent); the first of duplicate names kept.
 *
 * @param labels The profile's labels.
 * @returns The label list and its identity key, or undefined when there is no `__name__`.
 */
export function seriesLabels(
  labels: Record<string, string>,
): { labels: Label[]; key: string } | undefined {
  const name = labels.__name__;
  if (!name) return undefined;
  const seen = new Set<string>(["__name__"]);
  const rest: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(labels)) {
    if (k === "__name__" || v === "") continue;
    let n = isValidLabelName(k) ? k : k.replace(/[^a-zA-Z0-9_]/g, "_");
    if (!isValidLabelName(n)) n = `_${n}`;
    if (seen.has(n)) continue;
    seen.add(n);
    rest.push([n, v]);
  }
  rest.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const pairs: Array<[string, string]> = [["__name__", name], ...rest];
  return {
    labels: pairs.map(([n, v]) => create(LabelSchema, { name: n, value: v })),
    key: JSON.stringify(pairs),
  };
}

/**
 * The `executable_info` of a profile: one entry per pprof mapping, matched to the executable
 * mapping it was built from by start address and path; mappings with no ELF facts (the kernel,
 * `[vdso]`, non-ELF files) get an empty entry, which the server accepts.
 *
 * @param p The profile with its mappings.
 * @returns One entry per `p.profile.mapping`, or [] when the profile carries no mappings.
 */
export function executableInfos(p: ProcessProfile): ExecutableInfo[] {
  if (!p.mappings) return [];
  const strings = p.profile.stringTable;
  return p.profile.mapping.map((pm, i) => {
    // The profiler builds pprof mapping i + 1 from mappings[i]; check, then fall back to a search.
    let m: (typeof p.mappings)[number] | undefined = p.mappings![i];
    const file = strings[Number(pm.filename)];
    if (!m || BigInt(m.start) !== pm.memoryStart || m.path !== file) {
      m = p.mappings!.find((x) => BigInt(x.start) === pm.memoryStart && x.path === file);
    }
    if (!m || m.elfType === undefined) return create(ExecutableInfoSchema);
    return create(ExecutableInfoSchema, {
      elfType: m.elfType,
      loadSegment: m.loadSegment
        ? create(LoadSegmentSchema, {
          offset: BigInt(m.loadSegment.offset),
          vaddr: BigInt(m.loadSegment.vaddr),
        })
        : undefined,
    });
  });
}

/**
 * Codes after which a batch is kept for the next send rather than dropped: the server or the path
 * to it is down, overloaded or restarting. Unknown is not among them: Parca answers Unknown for a
 * profile it cannot normalize, which no retry fixes.
 */
const KEEP_ON = new Set<Code>([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
  Code.Internal,
  Code.Canceled,
]);

/**
 * Internal and ResourceExhausted may also be the server's answer to this very data; after this
 * many in a row the oldest batch is dropped, so that one bad profile cannot block the queue.
 */
const MAX_SERVER_FAILURES = 3;

/**
 * A one-line hint for errors users can fix with a flag.
 *
 * @param err The error of a call to the remote store.
 * @returns The hint, or undefined when there is none.
 */
export function remoteErrorHint(err: ConnectError): string | undefined {
  const tls = tlsSetupError(err);
  if (tls === "certificate") {
    return "the server's TLS certificate was rejected: give it a certificate the system trusts, " +
      "or pass --remote-store-insecure-skip-verify to skip verification";
  }
  if (tls === "handshake") {
    return "TLS handshake failed: if the server speaks plaintext (a local Parca does), " +
      "pass --remote-store-insecure";
  }
  if (err.code === Code.Unauthenticated || err.code === Code.PermissionDenied) {
    return "check --remote-store-bearer-token, --remote-store-bearer-token-file or $PARCA_BEARER_TOKEN";
  }
  return undefined;
}

/**
 * Queues profiles and sends them to the Parca server in one WriteRaw per interval.
 *
 * - {@link RemoteBatchWriter.write} only queues, synchronously: the profiling loop never waits on
 *   the network.
 * - Profiles with identical label sets go into one series, in arrival order; each carries its
 *   gzipped pprof as `raw_profile` and one `executable_info` per pprof mapping.
 * - Pending data (queued and in flight) is bounded by `maxPendingBytes`; past it the oldest
 *   queued profiles are dropped and counted (`parca_agent_remote_store_dropped_profiles_total`).
 * - A batch that fails with a transient code (the server is down, restarting, overloaded, or the
 *   connection dropped) is put back at the head of the queue and goes out with the next one, so a
 *   server that is down at start, or for minutes, gets the data when it is back (within the
 *   bound); three Internal or ResourceExhausted answers in a row drop it. Other codes
 *   (InvalidArgument, Unknown, Unauthenticated, ...) drop the batch; each code is logged once with
 *   the server's message.
 *
 * @example
 * ```ts ignore
 * import { createClient } from "@connectrpc/connect";
 * import { ProfileStoreService } from "../../gen/parca/profilestore/v1alpha1/profilestore_pb.ts";
 * import { getLogger } from "../../log/mod.ts";
 * import { RemoteBatchWriter } from "./batch_writer.ts";
 * const writer = new RemoteBatchWriter({
 *   client: createClient(ProfileStoreService, transport), // from createRemoteTransport()
 *   intervalMs: 10_000,
 *   writeTimeoutMs: 10_000,
 *   log: getLogger("remote"),
 * });
 * writer.start(); // then pass it to the profiler as one of its sinks
 * await writer.stop();
 * ```
 */
export class RemoteBatchWriter implements ProfileSink {
  readonly #opts: BatchWriterOptions;
  readonly #maxPending: number;
  #queue: Pending[] = [];
  #queuedBytes = 0;
  #inFlightBytes = 0;
  #inFlightCount = 0;
  #sending: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #loggedCodes = new Set<Code>();
  #failingSince: number | undefined;
  #droppedInOutage = 0;
  #warnedNoName = false;
  #serverFailures = 0;

  /** @param opts Client, interval and bounds. */
  constructor(opts: BatchWriterOptions) {
    this.#opts = opts;
    this.#maxPending = opts.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
  }

  /** Encoded bytes waiting (queued and in flight). */
  get pendingBytes(): number {
    return this.#queuedBytes + this.#inFlightBytes;
  }

  /** Profiles waiting (queued and in flight). */
  get pendingProfiles(): number {
    return this.#queue.length + this.#inFlightCount;
  }

  /**
   * Queues one profile. Never blocks and never throws for a profile it cannot send (it counts
   * and logs it instead).
   *
   * @param p The profile.
   */
  write(p: ProcessProfile): void {
    const series = seriesLabels(p.labels);
    if (!series) {
      if (!this.#warnedNoName) {
        this.#warnedNoName = true;
        this.#opts.log.warn("profile without a __name__ label cannot be sent; dropping such");
      }
      return;
    }
    const sample = create(RawSampleSchema, {
      rawProfile: p.pprof,
      executableInfo: executableInfos(p),
    });
    const entry: Pending = {
      key: series.key,
      labels: series.labels,
      sample,
      bytes: seriesFieldSize(labelSetSize(series.labels), [rawSampleSize(sample)]),
      samples: p.samples,
    };
    this.#queue.push(entry);
    this.#queuedBytes += entry.bytes;
    this.#trim();
  }

  /** Starts sending every interval. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.flush(), this.#opts.intervalMs);
  }

  /**
   * Sends everything queued now in one WriteRaw, unless a send is already running (then waits
   * for that one; what was queued meanwhile goes with the next).
   *
   * @param timeoutMs Deadline of the call, retries included; the writer's `writeTimeoutMs` by
   *   default.
   * @returns When the send is over, whatever its outcome (failures are handled inside).
   */
  flush(timeoutMs: number = this.#opts.writeTimeoutMs): Promise<void> {
    if (this.#sending) return this.#sending;
    if (this.#queue.length === 0) return Promise.resolve();
    const batch = this.#queue;
    this.#queue = [];
    this.#inFlightBytes = this.#queuedBytes;
    this.#inFlightCount = batch.length;
    this.#queuedBytes = 0;
    this.#sending = this.#send(batch, timeoutMs).finally(() => {
      this.#sending = undefined;
      this.#inFlightBytes = 0;
      this.#inFlightCount = 0;
      this.#gauges();
    });
    return this.#sending;
  }

  /**
   * Stops the timer, waits for a running send, then makes one last send of what is queued
   * (the profiler's final window), all within `budgetMs`: the agent's shutdown has a deadline, and
   * a slow or hung server must not use it up. Whatever cannot be sent in time is counted as
   * dropped; a send still running when the budget ends is left to the exiting process and said.
   *
   * @param budgetMs How long stopping may take in all.
   */
  async stop(budgetMs: number = STOP_FLUSH_TIMEOUT_MS): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    const deadline = Date.now() + budgetMs;
    if (this.#sending) await waitAtMost(this.#sending.catch(() => {}), budgetMs);
    const left = deadline - Date.now();
    // Short: a server that is down must not hold up the agent's exit for a whole interval.
    if (!this.#sending && left > 0) {
      await this.flush(Math.min(this.#opts.writeTimeoutMs, STOP_FLUSH_TIMEOUT_MS, left));
    }
    if (this.#sending) {
      this.#opts.log.warn("a send to the remote store was still running at shutdown", {
        profiles: this.#inFlightCount,
      });
    }
    if (this.#queue.length > 0) {
      this.#drop(this.#queue, "shutdown");
      this.#opts.log.warn("remote store unreachable at shutdown; queued profiles are lost", {
        profiles: this.#queue.length,
      });
      this.#queue = [];
      this.#queuedBytes = 0;
    }
    this.#gauges();
  }

  /**
   * Builds the WriteRaw request of a batch: one series per label set, in order of first
   * appearance, samples in arrival order.
   *
   * @param batch Queued profiles, oldest first: label identity, labels, sample.
   * @returns The request and its exact encoded size in bytes.
   */
  static buildRequest(
    batch: readonly { key: string; labels: Label[]; sample: RawSample }[],
  ): { request: WriteRawRequest; bytes: number } {
    const byKey = new Map<string, { labels: Label[]; samples: RawSample[]; sizes: number[] }>();
    for (const e of batch) {
      let s = byKey.get(e.key);
      if (!s) {
        s = { labels: e.labels, samples: [], sizes: [] };
        byKey.set(e.key, s);
      }
      s.samples.push(e.sample);
      s.sizes.push(rawSampleSize(e.sample));
    }
    let bytes = 0;
    for (const s of byKey.values()) bytes += seriesFieldSize(labelSetSize(s.labels), s.sizes);
    const request = create(WriteRawRequestSchema, {
      series: [...byKey.values()].map((s) =>
        create(RawProfileSeriesSchema, {
          labels: create(LabelSetSchema, { labels: s.labels }),
          samples: s.samples,
        })
      ),
    });
    return { request, bytes };
  }

  async #send(batch: Pending[], timeoutMs: number): Promise<void> {
    const { request: req, bytes } = RemoteBatchWriter.buildRequest(batch);
    const t0 = performance.now();
    try {
      await this.#opts.client.writeRaw(req, { timeoutMs });
    } catch (e) {
      remoteMetrics.writeSeconds.observe((performance.now() - t0) / 1000);
      recordSpan("remote.write", t0, { "remote.profiles": batch.length, "remote.bytes": bytes }, {
        error: e,
      });
      this.#failed(batch, ConnectError.from(e));
      return;
    }
    remoteMetrics.writeSeconds.observe((performance.now() - t0) / 1000);
    recordSpan("remote.write", t0, { "remote.profiles": batch.length, "remote.bytes": bytes });
    remoteMetrics.writes.inc({ code: "ok" });
    this.#serverFailures = 0;
    remoteMetrics.sentBytes.inc(bytes);
    remoteMetrics.sentProfiles.inc(batch.length);
    remoteMetrics.sentSamples.inc(batch.reduce((n, e) => n + e.samples, 0));
    if (this.#failingSince !== undefined) {
      this.#opts.log.info("remote store reachable again", {
        downSeconds: Math.round((Date.now() - this.#failingSince) / 1000),
        droppedProfiles: this.#droppedInOutage,
        sentProfiles: batch.length,
      });
      this.#failingSince = undefined;
      this.#droppedInOutage = 0;
    }
  }

  #failed(batch: Pending[], err: ConnectError): void {
    remoteMetrics.writes.inc({ code: codeLabel(err.code) });
    const hint = remoteErrorHint(err);
    const fromServer = (err.code === Code.Internal || err.code === Code.ResourceExhausted) &&
      tlsSetupError(err) === undefined;
    this.#serverFailures = fromServer ? this.#serverFailures + 1 : 0;
    if (KEEP_ON.has(err.code) && this.#serverFailures < MAX_SERVER_FAILURES) {
      // Back at the head of the queue: they are the oldest, first to go if the bound is hit.
      this.#queue = batch.concat(this.#queue);
      this.#queuedBytes += batch.reduce((n, e) => n + e.bytes, 0);
      this.#inFlightBytes = 0;
      this.#inFlightCount = 0;
      this.#trim();
      if (this.#failingSince === undefined) {
        this.#failingSince = Date.now();
        this.#opts.log.warn(
          "cannot send profiles to the remote store; keeping them and retrying every interval",
          {
            code: Code[err.code],
            error: err.rawMessage,
            ...(hint ? { hint } : {}),
            maxPendingMiB: Math.round(this.#maxPending / (1 << 20)),
          },
        );
      } else {
        this.#opts.log.debug("remote store still unreachable", {
          code: Code[err.code],
          error: err.rawMessage,
          pendingProfiles: this.#queue.length,
        });
      }
      return;
    }
    this.#serverFailures = 0;
    this.#drop(batch, "rejected");
    const props = {
      code: Code[err.code],
      error: err.rawMessage,
      profiles: batch.length,
      ...(hint ? { hint } : {}),
    };
    if (!this.#loggedCodes.has(err.code)) {
      this.#loggedCodes.add(err.code);
      this.#opts.log.warn(
        "remote store rejected a batch of profiles; dropped (logged once per code)",
        props,
      );
    } else {
      this.#opts.log.debug("remote store rejected a batch of profiles; dropped", props);
    }
  }

  /** Drops the oldest queued profiles until pending data fits the bound. */
  #trim(): void {
    let n = 0;
    let bytes = 0;
    while (n < this.#queue.length && this.pendingBytes - bytes > this.#maxPending) {
      bytes += this.#queue[n].bytes;
      n++;
    }
    if (n > 0) {
      const dropped = this.#queue.slice(0, n);
      this.#queue = this.#queue.slice(n);
      this.#queuedBytes -= bytes;
      this.#drop(dropped, "pending_full");
      if (this.#failingSince !== undefined) this.#droppedInOutage += n;
    }
    this.#gauges();
  }

  #drop(entries: readonly Pending[], reason: string): void {
    remoteMetrics.droppedProfiles.inc({ reason }, entries.length);
    remoteMetrics.droppedBytes.inc({ reason }, entries.reduce((n, e) => n + e.bytes, 0));
  }

  #gauges(): void {
    remoteMetrics.pendingBytes.set(this.pendingBytes);
    remoteMetrics.pendingProfiles.set(this.pendingProfiles);
  }
}

function codeLabel(code: Code): string {
  // Code[...] is CamelCase ("Unavailable"); metric label values read better in snake_case.
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}
