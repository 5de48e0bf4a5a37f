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
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
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
import * as procfs from "../procfs/mod.ts";
import { recordSpan } from "../tracing/mod.ts";
import { findDebuginfo, type FoundFile, openMappedBinary } from "./finder.ts";
import { waitAtMost } from "../async/mod.ts";

/** Size of each `chunk_data` message of the Upload stream, as Parca Agent sends them. */
export const UPLOAD_CHUNK_BYTES = 8 << 20;
/** After a failed attempt a build ID is left alone this long, so a broken upload is not a loop. */
export const FAILURE_BACKOFF_MS = 60_000;
/** At most this many build IDs wait for an upload slot; more are picked up when seen again. */
export const MAX_QUEUED_JOBS = 128;
/** Larger files are uploaded as found: stripping holds the file and its result in memory. */
export const MAX_STRIP_BYTES = 1 << 30;

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
  /** `--debuginfo-strip`: upload binaries stripped to debuginfo (see {@link prepareUpload}). */
  strip: boolean;
  /** `--debuginfo-compress`: zlib-compress DWARF sections (SHF_COMPRESSED). */
  compress: boolean;
  /**
   * Where stripped files are written (`--debuginfo-temp-dir`); each is unlinked right after it
   * is created.
   *
   * @default "/tmp"
   */
  tempDir?: string;
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
  /**
   * Descriptor to read from: the {@link FoundFile}'s, or an unlinked temp file holding the
   * stripped bytes (closed by {@link PreparedUpload.close}).
   */
  fd: number;
  /** Bytes to send. */
  size: number;
  /** Where it came from, for logs. */
  path: string;
  /** How it was found. */
  how: FoundFile["how"];
  /** What was done to it: `as-is`, `stripped` or `compressed` (compression only). */
  transform: "as-is" | "stripped" | "compressed";
  /** Closes the temp file, if any (the found file stays the caller's). */
  close(): void;
}

/** Options of {@link prepareUpload}. */
export interface PrepareOptions {
  /** `--debuginfo-strip`: strip the binary itself (separate debug files are debug-only already). */
  strip: boolean;
  /** `--debuginfo-compress`: zlib-compress the DWARF sections. */
  compress: boolean;
  /** `--debuginfo-temp-dir`. */
  tempDir: string;
  /** Where the reason for uploading a file as found goes. */
  log?: Pick<UploaderLogger, "debug">;
  /** Cancels the strip (its worker is terminated). */
  signal?: AbortSignal;
}

/** One strip at a time: each holds its input and output in memory (up to 2 GiB). */
let stripQueue: Promise<unknown> = Promise.resolve();

/** Runs wasm-unwind's `strip_debuginfo` in a fresh worker; the input buffer is transferred. */
function stripInWorker(
  bytes: ArrayBuffer,
  compress: boolean,
  keepAll: boolean,
  signal?: AbortSignal,
): Promise<ArrayBuffer> {
  const run = () =>
    new Promise<ArrayBuffer>((resolve, reject) => {
      signal?.throwIfAborted();
      const w = new Worker(new URL("./strip_worker.ts", import.meta.url), { type: "module" });
      const done = () => {
        w.terminate();
        signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        done();
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      w.onmessage = (e: MessageEvent<{ ok: boolean; result?: ArrayBuffer; message?: string }>) => {
        done();
        if (e.data.ok && e.data.result) resolve(e.data.result);
        else reject(new Error(e.data.message ?? "strip worker failed"));
      };
      w.onerror = (e) => {
        e.preventDefault();
        done();
        reject(new Error(`strip worker failed: ${e.message}`));
      };
      w.postMessage({ bytes, compress, keepAll }, [bytes]);
    });
  const p = stripQueue.then(run, run);
  stripQueue = p.catch(() => {});
  return p;
}

async function readAll(fd: number, size: number): Promise<ArrayBuffer> {
  const buf = new Uint8Array(size);
  let off = 0;
  for await (const b of chunks(fd, size, UPLOAD_CHUNK_BYTES)) {
    buf.set(b, off);
    off += b.length;
  }
  return buf.buffer;
}

/** Writes `bytes` to a nameless file in `dir` (mode 0600, see procfs.openTempFileSync); returns its fd. */
function unlinkedTempFile(dir: string, bytes: Uint8Array): number {
  const fd = procfs.openTempFileSync(dir);
  try {
    for (let off = 0; off < bytes.length;) {
      off += procfs.writeSync(fd, bytes, off, bytes.length - off, off);
    }
    return fd;
  } catch (e) {
    procfs.closeSync(fd);
    throw e;
  }
}

/**
 * Makes the file to upload smaller before it is sent.
 *
 * - `strip` and the file is the binary itself: keep DWARF, symbol tables, notes, Go tables and
 *   PLT/relocation sections, turn everything else into NOBITS (program headers unchanged).
 * - `compress`: zlib the `.debug_*` sections (Elf64_Chdr + SHF_COMPRESSED), for a separate debug
 *   file too (which is otherwise sent as found: it is debug-only already).
 *
 * Both run in wasm-unwind (`strip_debuginfo`) in a worker, one file at a time; the result goes
 * to a temp file in `tempDir` (mode 0600) that is unlinked as soon as it is created, so nothing
 * is left behind even if the agent dies. The file is uploaded as found when neither applies,
 * when it is larger than {@link MAX_STRIP_BYTES}, or when it cannot be stripped (not ELF64
 * little-endian, corrupt): logged at debug level.
 *
 * @param found The file chosen by the finder.
 * @param opts The flags and where to write.
 * @returns What to send; {@link PreparedUpload.close} it after the upload.
 */
export async function prepareUpload(
  found: FoundFile,
  opts: PrepareOptions,
): Promise<PreparedUpload> {
  const asIs: PreparedUpload = {
    fd: found.file.fd,
    size: found.file.size,
    path: found.path,
    how: found.how,
    transform: "as-is",
    close: () => {},
  };
  const strip = opts.strip && found.how === "binary";
  if (!strip && !opts.compress) return asIs;
  if (found.file.size > MAX_STRIP_BYTES) {
    opts.log?.debug("file too large to strip, uploading it as found", {
      path: found.path,
      bytes: found.file.size,
      limit: MAX_STRIP_BYTES,
    });
    return asIs;
  }
  let result: Uint8Array;
  try {
    const bytes = await readAll(found.file.fd, found.file.size);
    result = new Uint8Array(await stripInWorker(bytes, opts.compress, !strip, opts.signal));
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    opts.log?.debug("cannot strip the file, uploading it as found", {
      path: found.path,
      error: (e as Error).message,
    });
    return asIs;
  }
  const fd = unlinkedTempFile(opts.tempDir, result);
  let open = true;
  return {
    fd,
    size: result.length,
    path: found.path,
    how: found.how,
    transform: strip ? "stripped" : "compressed",
    close: () => {
      if (open) procfs.closeSync(fd);
      open = false;
    },
  };
}

/** Reads a file range by range without blocking the event loop. */
async function* chunks(fd: number, size: number, chunk: number): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < size;) {
    const buf = new Uint8Array(Math.min(chunk, size - off));
    let got = 0;
    while (got < buf.length) {
      const bytesRead = await procfs.read(fd, buf, got, buf.length - got, off + got);
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

  /**
   * Cancels running jobs and waits for them to end, `budgetMs` at most: an upload that does not
   * notice the cancel in time (a file read, a server that stopped reading) is left to the exiting
   * process rather than hold up the agent's shutdown deadline.
   *
   * @param budgetMs How long to wait for running jobs.
   */
  async stop(budgetMs = Infinity): Promise<void> {
    this.#stop.abort(new ConnectError("agent stopping", Code.Canceled));
    if (budgetMs === Infinity) return await this.idle();
    await waitAtMost(this.idle(), budgetMs);
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
    const t0 = performance.now();
    let found: FoundFile | undefined;
    let prepared: PreparedUpload | undefined;
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
      prepared = await prepareUpload(found, {
        strip: this.#opts.strip,
        compress: this.#opts.compress,
        tempDir: this.#opts.tempDir ?? "/tmp",
        log: this.#opts.log,
        signal,
      });
      if (prepared.transform !== "as-is") {
        this.#opts.log.debug("prepared debuginfo", {
          buildId,
          path: m.path,
          transform: prepared.transform,
          originalBytes: found.file.size,
          bytes: prepared.size,
        });
      }
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
          const file = prepared;
          const stream = async function* (): AsyncGenerator<
            MessageInitShape<typeof UploadRequestSchema>
          > {
            yield { data: { case: "info", value: info } };
            for await (const b of chunks(file.fd, file.size, UPLOAD_CHUNK_BYTES)) {
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
        transform: prepared.transform,
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
      prepared?.close();
      found?.file.close();
      remoteMetrics.debuginfoUploads.inc({ outcome });
      recordSpan("debuginfo.upload", t0, {
        "debuginfo.build_id": buildId,
        "debuginfo.outcome": outcome,
      }, { error: outcome === "failed" ? outcome : undefined });
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
