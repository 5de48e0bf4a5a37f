// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The debuginfo uploader: gives the Parca server the debug information it needs to name the
 * native frames of the profiles the agent sends.
 *
 * @module
 */

import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { createHash } from "node:crypto";
import { read as fsRead } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { promisify } from "node:util";
import {
  BuildIDType,
  DebuginfoService,
  DebuginfoType,
  UploadInstructions_UploadStrategy as Strategy,
  UploadRequestSchema,
} from "../gen/parca/debuginfo/v1alpha1/debuginfo_pb.ts";
import type { ExecutableMapping } from "../process/mod.ts";
import type { ProcessProfile, ProfileSink } from "../profiler/mod.ts";
import { remoteMetrics } from "../store/mod.ts";
import { findDebuginfo, type FoundFile, openMappedBinary } from "./finder.ts";

const readAsync = promisify(fsRead);

/** Size of each `chunk_data` message of the Upload stream, as Parca Agent sends them. */
export const UPLOAD_CHUNK_BYTES = 8 << 20;
/** After a failed attempt a build ID is left alone this long, so a broken upload is not a loop. */
export const FAILURE_BACKOFF_MS = 60_000;
/** At most this many build IDs wait for an upload slot; more are picked up when seen again. */
export const MAX_QUEUED_JOBS = 128;

/** The logger the uploader reports to; a LogTape `Logger` fits. */
export interface UploaderLogger {
  /** Logs at info level. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Logs at warning level. */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** Logs at debug level. */
  debug(message: string, properties?: Record<string, unknown>): void;
}

/** Options of {@link DebuginfoUploader}; the fields mirror the `--debuginfo-*` flags. */
export interface UploaderOptions {
  /** A DebuginfoService client over the remote transport. */
  client: Client<typeof DebuginfoService>;
  /** Where to look for separate debug files (`--debuginfo-directories`). */
  directories: readonly string[];
  /** Uploads at the same time (`--debuginfo-upload-max-parallel`). */
  maxParallel: number;
  /** Deadline of one build ID's whole exchange (`--debuginfo-upload-timeout-duration`). */
  timeoutMs: number;
  /**
   * Deadline of each unary call, retries included (`--remote-store-rpc-unary-timeout`); the
   * exchange's own deadline still applies.
   *
   * @default {Infinity}
   */
  unaryTimeoutMs?: number;
  /** How long the server's answer for a build ID is remembered (`--debuginfo-upload-cache-duration`). */
  cacheMs: number;
  /** Remember nothing: ask the server again each time a build ID is seen (`--debuginfo-disable-caching`). */
  disableCaching: boolean;
  /** `--debuginfo-strip`: not applied yet (see {@link prepareUpload}); logged once. */
  strip: boolean;
  /** `--debuginfo-compress`: not applied yet; logged once. */
  compress: boolean;
  /** Where lines go. */
  log: UploaderLogger;
  /**
   * The process's root directory, for finding debug files inside its mount namespace.
   *
   * @default (pid) => `/proc/${pid}/root`
   */
  rootOf?: (pid: number) => string;
  /**
   * Opens the binary behind a mapping; tests replace it.
   *
   * @default openMappedBinary
   */
  openBinary?: (pid: number, m: ExecutableMapping) => FoundFile | undefined;
}

/** The bytes to upload for one build ID, after {@link prepareUpload}. */
export interface PreparedUpload {
  /** Descriptor to read from (owned by the {@link FoundFile} it came from). */
  fd: number;
  /** Bytes to send. */
  size: number;
  /** Where it came from, for logs. */
  path: string;
  /** How it was found. */
  how: FoundFile["how"];
}

/**
 * The seam where the file to upload is made smaller before it is sent.
 *
 * `--debuginfo-strip` (keep DWARF, symbol tables, notes, Go tables and PLT/relocation sections,
 * turn everything else into NOBITS) and `--debuginfo-compress` (zlib DWARF sections with
 * SHF_COMPRESSED) are to run here, in the WASM module (`wasm-unwind/`, gimli/object) inside a
 * worker, writing into `--debuginfo-temp-dir`. Until that lands the file is uploaded as found:
 * the separate debug file, or the unmodified binary. The server accepts either; an unstripped
 * binary only costs more bytes.
 *
 * @param found The file chosen by the finder.
 * @returns What to send.
 */
export function prepareUpload(found: FoundFile): PreparedUpload {
  return { fd: found.file.fd, size: found.file.size, path: found.path, how: found.how };
}

/** Reads a file range by range without blocking the event loop. */
async function* chunks(fd: number, size: number, chunk: number): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < size;) {
    const buf = new Uint8Array(Math.min(chunk, size - off));
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await readAsync(fd, buf, got, buf.length - got, off + got);
      if (bytesRead === 0) throw new Error(`file shrank while being read (at ${off + got})`);
      got += bytesRead;
    }
    off += got;
    yield buf;
  }
}

/** SHA-256 (hex) of a prepared upload; the server only compares hashes for equality. */
async function hashOf(p: PreparedUpload): Promise<string> {
  const h = createHash("sha256");
  for await (const b of chunks(p.fd, p.size, 1 << 20)) h.update(b);
  return h.digest("hex");
}

function buildIdType(kind: ExecutableMapping["buildIdKind"]): BuildIDType {
  switch (kind) {
    case "gnu":
      return BuildIDType.BUILD_ID_TYPE_GNU;
    case "go":
      return BuildIDType.BUILD_ID_TYPE_GO;
    case "text-hash":
      return BuildIDType.BUILD_ID_TYPE_HASH;
    default:
      return BuildIDType.BUILD_ID_TYPE_UNKNOWN_UNSPECIFIED;
  }
}

type Outcome =
  | "uploaded"
  | "not_wanted"
  | "already_exists"
  | "failed"
  | "no_file"
  | "queue_full";

/**
 * Uploads the debuginfo of every executable mapping the profiler reports, once per build ID.
 *
 * For each build ID not yet known: ShouldInitiateUpload → find a debug file
 * ({@link findDebuginfo}) or else take the binary → {@link prepareUpload} → InitiateUpload
 * (size, SHA-256, build ID type) → the Upload client stream in 8 MiB chunks, or an HTTP PUT to
 * the signed URL, as the server instructs → MarkUploadFinished.
 *
 * - {@link DebuginfoUploader.write} only looks at the mappings and starts jobs; it never waits.
 * - One job per build ID at a time (in-flight de-duplication); at most `maxParallel` run, up to
 *   {@link MAX_QUEUED_JOBS} wait.
 * - The server's final answer (uploaded, not wanted, already there) is remembered for `cacheMs`
 *   (nothing is remembered with `disableCaching` or `cacheMs` 0); after a failure the build ID
 *   rests for {@link FAILURE_BACKOFF_MS}.
 * - Each job runs under `timeoutMs`, all RPCs included.
 *
 * @example
 * ```ts ignore
 * import { createClient } from "@connectrpc/connect";
 * import { DebuginfoService } from "../gen/parca/debuginfo/v1alpha1/debuginfo_pb.ts";
 * import { DebuginfoUploader } from "./uploader.ts";
 * const uploader = new DebuginfoUploader({
 *   client: createClient(DebuginfoService, transport), // from createRemoteTransport()
 *   directories: ["/usr/lib/debug"],
 *   maxParallel: 25,
 *   timeoutMs: 120_000,
 *   cacheMs: 300_000,
 *   disableCaching: false,
 *   strip: true,
 *   compress: false,
 *   log: getLogger("debuginfo"),
 * });
 * // pass `uploader` to the profiler as one of its sinks; at exit:
 * await uploader.stop();
 * ```
 */
export class DebuginfoUploader implements ProfileSink {
  readonly #opts: UploaderOptions;
  /** Build ID → time until which it is left alone. */
  readonly #known = new Map<string, number>();
  /** Build IDs with a job queued or running. */
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #waiting: Array<() => void> = [];
  #running = 0;
  readonly #stop = new AbortController();
  #warnedStrip = false;
  readonly #warnedFailure = new Set<string>();

  /** @param opts Client, search directories and limits. */
  constructor(opts: UploaderOptions) {
    this.#opts = opts;
  }

  /** Build IDs with a job queued or running; for tests and the status page. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Looks at a profile's mappings and starts a job for each build ID not known yet.
   *
   * @param p The profile (its pid and mappings).
   */
  write(p: ProcessProfile): void {
    if (p.mappings) this.observe(p.pid, p.mappings);
  }

  /**
   * Starts jobs for the mappings of one process whose build IDs are not known yet.
   *
   * @param pid The process; its files are read through /proc/PID while the job runs.
   * @param mappings Its executable mappings.
   */
  observe(pid: number, mappings: readonly ExecutableMapping[]): void {
    if (this.#stop.signal.aborted) return;
    const now = Date.now();
    for (const m of mappings) {
      if (m.special || m.buildId === "" || m.buildIdKind === "none") continue;
      const id = m.buildId;
      if (this.#inFlight.has(id)) continue;
      const until = this.#known.get(id);
      if (until !== undefined) {
        if (until > now) continue;
        this.#known.delete(id);
      }
      if (this.#inFlight.size >= this.#opts.maxParallel + MAX_QUEUED_JOBS) {
        remoteMetrics.debuginfoUploads.inc({ outcome: "queue_full" satisfies Outcome });
        continue;
      }
      const job = this.#slot(() => this.#job(pid, m)).finally(() => this.#inFlight.delete(id));
      this.#inFlight.set(id, job);
    }
  }

  /** Waits until every job started so far has finished (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight.values()]);
  }

  /** Cancels running jobs and waits for them to end. */
  async stop(): Promise<void> {
    this.#stop.abort(new ConnectError("agent stopping", Code.Canceled));
    await this.idle();
  }

  async #slot(fn: () => Promise<void>): Promise<void> {
    if (this.#running >= this.#opts.maxParallel) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#running++;
    try {
      await fn();
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }

  #remember(buildId: string, ms: number): void {
    if (ms > 0) this.#known.set(buildId, Date.now() + ms);
  }

  #answerTtl(): number {
    return this.#opts.disableCaching ? 0 : this.#opts.cacheMs;
  }

  async #job(pid: number, m: ExecutableMapping): Promise<void> {
    if (this.#stop.signal.aborted) return;
    const buildId = m.buildId;
    const deadline = Date.now() + this.#opts.timeoutMs;
    const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.#opts.timeoutMs)]);
    const unary = this.#opts.unaryTimeoutMs ?? Infinity;
    const call = () => ({ signal, timeoutMs: Math.max(1, Math.min(unary, deadline - Date.now())) });
    const type = buildIdType(m.buildIdKind);
    const client = this.#opts.client;
    let outcome: Outcome = "failed";
    let found: FoundFile | undefined;
    try {
      const should = await client.shouldInitiateUpload({ buildId, buildIdType: type }, call());
      if (!should.shouldInitiateUpload) {
        outcome = "not_wanted";
        this.#remember(buildId, this.#answerTtl());
        this.#opts.log.debug("server does not want debuginfo", {
          buildId,
          path: m.path,
          reason: should.reason,
        });
        return;
      }
      found = this.#find(pid, m);
      if (!found) {
        // The process (or its file) is gone: try again when another process maps it.
        outcome = "no_file";
        this.#opts.log.debug("cannot open the file to upload", { buildId, path: m.path, pid });
        return;
      }
      const prepared = prepareUpload(found);
      this.#noteStripping();
      const hash = await hashOf(prepared);
      let instructions;
      try {
        const res = await client.initiateUpload({
          buildId,
          buildIdType: type,
          size: BigInt(prepared.size),
          hash,
          type: DebuginfoType.DEBUGINFO_UNSPECIFIED,
        }, call());
        instructions = res.uploadInstructions;
      } catch (e) {
        const err = ConnectError.from(e);
        // AlreadyExists: an identical file is there; FailedPrecondition: another agent's upload
        // is in progress or the server changed its mind. Neither wants this upload.
        if (err.code === Code.AlreadyExists || err.code === Code.FailedPrecondition) {
          outcome = "already_exists";
          this.#remember(buildId, this.#answerTtl());
          return;
        }
        throw err;
      }
      if (!instructions) throw new Error("InitiateUpload returned no upload instructions");
      const uploadId = instructions.uploadId;
      switch (instructions.uploadStrategy) {
        case Strategy.GRPC: {
          const info = { buildId, uploadId, type: DebuginfoType.DEBUGINFO_UNSPECIFIED };
          const stream = async function* (): AsyncGenerator<
            MessageInitShape<typeof UploadRequestSchema>
          > {
            yield { data: { case: "info", value: info } };
            for await (const b of chunks(prepared.fd, prepared.size, UPLOAD_CHUNK_BYTES)) {
              yield { data: { case: "chunkData", value: b } };
            }
          };
          await client.upload(stream(), { signal, timeoutMs: Math.max(1, deadline - Date.now()) });
          break;
        }
        case Strategy.SIGNED_URL:
          await putSignedUrl(instructions.signedUrl, prepared, signal);
          break;
        default:
          throw new Error(
            `server allows no upload strategy (${instructions.uploadStrategy}) for this build ID`,
          );
      }
      await client.markUploadFinished({
        buildId,
        uploadId,
        type: DebuginfoType.DEBUGINFO_UNSPECIFIED,
      }, call());
      outcome = "uploaded";
      this.#remember(buildId, this.#answerTtl());
      remoteMetrics.debuginfoUploadBytes.inc(prepared.size);
      this.#opts.log.info("uploaded debuginfo", {
        buildId,
        path: m.path,
        from: prepared.how,
        bytes: prepared.size,
      });
    } catch (e) {
      if (this.#stop.signal.aborted) return;
      outcome = "failed";
      this.#known.set(buildId, Date.now() + FAILURE_BACKOFF_MS);
      const err = ConnectError.from(e);
      const props = {
        buildId,
        path: m.path,
        code: Code[err.code],
        error: err.rawMessage,
        retryInSeconds: FAILURE_BACKOFF_MS / 1000,
      };
      // Once per kind of failure at warning level: a server that is down, or a TLS setting
      // that is wrong, would otherwise repeat the same line for every library of every process.
      const kind = `${err.code}:${err.rawMessage}`;
      if (!this.#warnedFailure.has(kind)) {
        this.#warnedFailure.add(kind);
        this.#opts.log.warn("debuginfo upload failed", props);
      } else {
        this.#opts.log.debug("debuginfo upload failed", props);
      }
    } finally {
      found?.file.close();
      remoteMetrics.debuginfoUploads.inc({ outcome });
    }
  }

  #find(pid: number, m: ExecutableMapping): FoundFile | undefined {
    const open = this.#opts.openBinary ?? openMappedBinary;
    const binary = open(pid, m);
    if (!binary) return undefined;
    const rootOf = this.#opts.rootOf ?? ((p: number) => `/proc/${p}/root`);
    const debug = findDebuginfo({
      root: rootOf(pid),
      directories: this.#opts.directories,
      binaryPath: m.path,
      buildId: m.buildId,
      buildIdKind: m.buildIdKind as "gnu" | "go" | "text-hash",
      binary: binary.file,
    }, this.#opts.log);
    if (debug) {
      binary.file.close();
      return debug;
    }
    return binary;
  }

  #noteStripping(): void {
    if (this.#warnedStrip || !(this.#opts.strip || this.#opts.compress)) return;
    this.#warnedStrip = true;
    this.#opts.log.info(
      "debuginfo stripping and compression are not applied yet (they will run in the WASM " +
        "module); uploading debug files and binaries unmodified",
      { strip: this.#opts.strip, compress: this.#opts.compress },
    );
  }
}

/**
 * Uploads to a signed URL with an HTTP PUT of exactly `size` bytes. node:http is used rather than
 * fetch: Deno's fetch sends a streamed body chunked and drops the Content-Length that object
 * stores require for signed PUTs.
 */
async function putSignedUrl(url: string, p: PreparedUpload, signal: AbortSignal): Promise<void> {
  const u = new URL(url);
  const request = u.protocol === "https:" ? httpsRequest : httpRequest;
  const req = request(u, {
    method: "PUT",
    headers: { "content-length": String(p.size), "content-type": "application/octet-stream" },
    signal,
  });
  const response = new Promise<number>((resolve, reject) => {
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
  for await (const b of chunks(p.fd, p.size, UPLOAD_CHUNK_BYTES)) {
    if (!req.write(b)) await new Promise((r) => req.once("drain", r));
  }
  req.end();
  const status = await response;
  if (status < 200 || status > 299) {
    throw new Error(`PUT to the signed upload URL failed: HTTP ${status}`);
  }
}
