// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The agent's flags: their typed form, the parser, and what they change.
 *
 * The command line is Parca Agent v0.30's (`reference/seed-help.txt`), parsed more strictly: a
 * value that the reference would have silently reset or failed on much later is a
 * {@link FlagError} here, naming the flag.
 *
 * @module
 */

import {
  ALWAYS_MET_FLAGS,
  BEARER_TOKEN_ENV,
  FLAG_SPECS,
  type FlagSpec,
  GO_RUNTIME_FLAGS,
  HELP_ROWS,
  SECRET_FLAG,
} from "./_table.ts";
import { editDistance, parseBool, ValueError } from "./_values.ts";

/** `--log-level` values. */
export type LogLevel = "error" | "warn" | "info" | "debug";
/** `--log-format` values. */
export type LogFormat = "logfmt" | "json";
/** `--otlp-exporter` values. */
export type OtlpExporter = "grpc" | "http" | "stdout";
/** `--object-file-pool-eviction-policy` values. */
export type PoolEvictionPolicy = "lru" | "lfu";

/**
 * Every flag's value after parsing. Durations are in milliseconds (fields ending in `Ms`), sizes
 * in bytes unless the name says otherwise.
 */
export interface AgentFlags {
  /** `--log-level`. @default "info" */
  logLevel: LogLevel;
  /** `--log-format`. @default "logfmt" */
  logFormat: LogFormat;
  /** `--http-address`, checked as `host:port`. @default "127.0.0.1:7071" */
  httpAddress: string;
  /**
   * `--http-allowed-hosts`: Host names the HTTP server answers besides IP addresses, localhost
   * and the host of `--http-address` (an addition to the reference's flags). @default []
   */
  httpAllowedHosts: string[];
  /**
   * `--http-raw-labels`: serve `/?labels=raw`, the labels before relabeling (an addition to the
   * reference's flags). @default false
   */
  httpRawLabels: boolean;
  /** `--node`. Defaults to this machine's host name. */
  node: string;
  /** `--config-path`; empty means no config file. @default "" */
  configPath: string;
  /** `--memlock-rlimit` in bytes; 0 means no limit. @default 0 */
  memlockRlimit: number;
  /** `--mutex-profile-fraction`: a Go runtime setting, accepted and ignored. @default 0 */
  mutexProfileFraction: number;
  /** `--block-profile-rate`: a Go runtime setting, accepted and ignored. @default 0 */
  blockProfileRate: number;
  /** `--profiling-duration`. @default 10000 */
  profilingDurationMs: number;
  /** `--profiling-cpu-sampling-frequency` in Hz, 1 to 10000. @default 19 */
  profilingCpuSamplingFrequency: number;
  /** `--profiling-perf-event-buffer-poll-interval`. @default 250 */
  profilingPerfEventBufferPollIntervalMs: number;
  /** `--profiling-perf-event-buffer-processing-interval`. @default 100 */
  profilingPerfEventBufferProcessingIntervalMs: number;
  /** `--profiling-perf-event-buffer-worker-count`, at least 1. @default 4 */
  profilingPerfEventBufferWorkerCount: number;
  /** `--metadata-external-labels`, in the order given. @default [] */
  metadataExternalLabels: Array<[string, string]>;
  /** `--metadata-container-runtime-socket-path`; empty means the usual sockets. @default "" */
  metadataContainerRuntimeSocketPath: string;
  /** `--metadata-disable-caching`. @default false */
  metadataDisableCaching: boolean;
  /** `--local-store-directory`; empty means none. @default "" */
  localStoreDirectory: string;
  /** `--local-store-symbolize` (this agent's own): write symbolized profiles. @default false */
  localStoreSymbolize: boolean;
  /** `--http-ui-history-size` (this agent's own) in bytes; 0 turns `/ui` off. @default 16 MiB */
  httpUiHistorySize: number;
  /** `--remote-store-address`, `host:port`; empty means none. @default "" */
  remoteStoreAddress: string;
  /** `--remote-store-bearer-token`, or `$PARCA_BEARER_TOKEN`. A secret: never log it. @default "" */
  remoteStoreBearerToken: string;
  /** `--remote-store-bearer-token-file`. @default "" */
  remoteStoreBearerTokenFile: string;
  /** `--remote-store-insecure`. @default false */
  remoteStoreInsecure: boolean;
  /** `--remote-store-insecure-skip-verify`. @default false */
  remoteStoreInsecureSkipVerify: boolean;
  /** `--remote-store-batch-write-interval`. @default 10000 */
  remoteStoreBatchWriteIntervalMs: number;
  /** `--remote-store-rpc-logging-enable`. @default false */
  remoteStoreRpcLoggingEnable: boolean;
  /** `--remote-store-rpc-unary-timeout`. @default 300000 */
  remoteStoreRpcUnaryTimeoutMs: number;
  /** `--debuginfo-directories`, in search order. @default ["/usr/lib/debug"] */
  debuginfoDirectories: string[];
  /** `--debuginfo-temp-dir`. @default "/tmp" */
  debuginfoTempDir: string;
  /** `--debuginfo-strip`. @default true */
  debuginfoStrip: boolean;
  /** `--debuginfo-compress`. @default false */
  debuginfoCompress: boolean;
  /** `--debuginfo-upload-disable`. @default false */
  debuginfoUploadDisable: boolean;
  /** `--debuginfo-upload-max-parallel`, at least 1. @default 25 */
  debuginfoUploadMaxParallel: number;
  /** `--debuginfo-upload-timeout-duration`. @default 120000 */
  debuginfoUploadTimeoutMs: number;
  /** `--debuginfo-upload-cache-duration`; 0 means no cache. @default 300000 */
  debuginfoUploadCacheMs: number;
  /** `--debuginfo-disable-caching`. @default false */
  debuginfoDisableCaching: boolean;
  /** `--symbolizer-jit-disable`. @default false */
  symbolizerJitDisable: boolean;
  /** `--otlp-address`; empty means no tracing. @default "" */
  otlpAddress: string;
  /** `--otlp-exporter`. @default "grpc" */
  otlpExporter: OtlpExporter;
  /** `--object-file-pool-eviction-policy`. @default "lru" */
  objectFilePoolEvictionPolicy: PoolEvictionPolicy;
  /** `--object-file-pool-size`; 0 means no limit. @default 100 */
  objectFilePoolSize: number;
  /** `--dwarf-unwinding-disable`. @default false */
  dwarfUnwindingDisable: boolean;
  /** `--dwarf-unwinding-mixed`. @default true */
  dwarfUnwindingMixed: boolean;
  /** `--python-unwinding-disable`. @default false */
  pythonUnwindingDisable: boolean;
  /** `--ruby-unwinding-disable`. @default false */
  rubyUnwindingDisable: boolean;
  /** `--analytics-opt-out`: accepted; this agent never sends analytics. @default false */
  analyticsOptOut: boolean;
  /** `--telemetry-disable-panic-reporting`. @default false */
  telemetryDisablePanicReporting: boolean;
  /** `--telemetry-stderr-buffer-size-kb`, at least 1. @default 4096 */
  telemetryStderrBufferSizeKb: number;
  /** `--bpf-verbose-logging`. @default false */
  bpfVerboseLogging: boolean;
  /** `--bpf-events-buffer-size` in pages, a power of two of at least 32. @default 8192 */
  bpfEventsBufferSize: number;
}

/** What the command line asks for. */
export type ParseResult =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "run"; flags: AgentFlags };

/** A command line the agent cannot run with; the message is one line naming the flag. */
export class FlagError extends Error {
  /**
   * The flag at fault, without leading dashes (`"profiling-duration"`), as typed for an unknown
   * flag, or `""` when the fault is a positional argument.
   */
  readonly flag: string;

  /**
   * Makes an error about one flag.
   *
   * @param flag The flag at fault, without leading dashes.
   * @param message One line, sentence case, no final period.
   * @param options The underlying error, if any.
   */
  constructor(flag: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FlagError";
    this.flag = flag;
  }
}

/** Inputs of {@link parseFlags} that tests replace. */
export interface ParseOptions {
  /** The default of `--node`. @default Deno.hostname() */
  hostname?: string;
}

const BY_NAME: ReadonlyMap<string, FlagSpec> = new Map(FLAG_SPECS.map((s) => [s.name, s]));

// Every spelling a user could mean, for "did you mean" hints.
const KNOWN_NAMES: readonly string[] = HELP_ROWS.flatMap((r) => {
  if (r.kind !== "flag") return r.kind === "deprecated" ? [] : [r.name];
  return r.spec.bool ? [r.spec.name, `no-${r.spec.name}`] : [r.spec.name];
});

/**
 * Returns every flag's default, as a fresh object the caller may change.
 *
 * @param hostname The default of `--node`.
 * @returns The defaults.
 *
 * @example Reading a default
 * ```ts
 * import { defaultFlags } from "./flags.ts";
 * const d = defaultFlags("node-a");
 * console.assert(d.profilingDurationMs === 10_000 && d.node === "node-a");
 * ```
 */
export function defaultFlags(hostname: string = Deno.hostname()): AgentFlags {
  const out: Record<string, unknown> = {};
  for (const s of FLAG_SPECS) out[s.key] = s.defaultValue(hostname);
  return out as unknown as AgentFlags;
}

/**
 * Parses the agent's command line.
 *
 * Accepted forms are `--flag=value` and `--flag value`; booleans also take `--flag`,
 * `--flag=true`, `--flag=false` and `--no-flag`. A repeated flag keeps its last value, except
 * `--metadata-external-labels` and `--debuginfo-directories`, whose uses add up (the first
 * replaces the default). `--help`/`-h` and `--version` end parsing where they stand, so they work
 * even when later arguments are wrong. `--remote-store-bearer-token` defaults to
 * `$PARCA_BEARER_TOKEN`; a token given both ways takes the flag.
 *
 * @param args The arguments after the program name.
 * @param env The environment; only `PARCA_BEARER_TOKEN` is read.
 * @param options Replaces the host name used as the default of `--node`.
 * @returns What to do: print help, print the version, or run with these flags.
 * @throws {FlagError} On any unknown flag, bad value, positional argument or conflict.
 *
 * @example Parsing a command line
 * ```ts
 * import { parseFlags } from "./flags.ts";
 * const r = parseFlags(["--profiling-duration=5s", "--no-debuginfo-strip"], {}, {
 *   hostname: "node-a",
 * });
 * if (r.kind === "run") console.assert(r.flags.profilingDurationMs === 5000);
 * ```
 */
export function parseFlags(
  args: string[],
  env: Record<string, string | undefined>,
  options: ParseOptions = {},
): ParseResult {
  const values = new Map<FlagSpec, unknown>();
  let lastBool: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const boolBefore = lastBool;
    lastBool = undefined;
    if (arg === "--") {
      if (i + 1 < args.length) throw positional(args[i + 1], undefined);
      break;
    }
    if (arg === "-h") return { kind: "help" };
    if (!arg.startsWith("-") || arg === "-") throw positional(arg, boolBefore);
    if (!arg.startsWith("--")) {
      // Kong has no single-dash long flags; "-log-level" is a typo worth a hint.
      const typed = arg.slice(1).split("=")[0];
      throw unknownFlag(typed, `-${typed}`);
    }
    const body = arg.slice(2);
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    const inline = eq < 0 ? undefined : body.slice(eq + 1);

    if (name === "help" || name === "version") {
      if (inline !== undefined) throw new FlagError(name, `flag --${name} takes no value`);
      return { kind: name };
    }
    if (name === "verbose-bpf-logging" || name === "no-verbose-bpf-logging") {
      // The reference turns this into an error too, so scripts learn the new name.
      throw new FlagError(
        "verbose-bpf-logging",
        "flag --verbose-bpf-logging is deprecated: use --bpf-verbose-logging",
      );
    }

    const spec = BY_NAME.get(name);
    if (spec === undefined && name.startsWith("no-")) {
      const negated = BY_NAME.get(name.slice(3));
      if (negated?.bool) {
        if (inline !== undefined) {
          throw new FlagError(
            negated.name,
            `flag --${name} takes no value: write --${negated.name}=true or --${negated.name}=false`,
          );
        }
        values.set(negated, false);
        continue;
      }
    }
    if (spec === undefined) throw unknownFlag(name, `--${name}`);

    if (spec.bool) {
      if (inline === undefined) {
        values.set(spec, true);
        lastBool = spec.name;
      } else {
        values.set(spec, convert(spec, inline, (raw) => parseBool(raw)));
      }
      continue;
    }

    let raw = inline;
    if (raw === undefined) {
      const next = args[i + 1];
      if (next === undefined) throw new FlagError(spec.name, `flag --${spec.name} needs a value`);
      // A value that looks like a flag is more likely a forgotten value than a value.
      if (next.startsWith("-") && next !== "-") {
        throw new FlagError(
          spec.name,
          `flag --${spec.name} needs a value: write --${spec.name}=VALUE for a value that starts with "-"`,
        );
      }
      raw = next;
      i++;
    }
    const s = spec;
    values.set(s, convert(s, raw, (r) => s.parse(r, values.get(s))));
  }

  // Deno.hostname() needs --allow-sys; skip it when --node makes it moot.
  const nodeGiven = [...values.keys()].some((s) => s.key === "node");
  const flags = defaultFlags(options.hostname ?? (nodeGiven ? "" : Deno.hostname()));
  const record = flags as unknown as Record<string, unknown>;
  for (const [s, v] of values) record[s.key] = v;

  const tokenSpec = BY_NAME.get(SECRET_FLAG);
  const envToken = env[BEARER_TOKEN_ENV];
  const tokenFromEnv = tokenSpec !== undefined && !values.has(tokenSpec) &&
    envToken !== undefined &&
    envToken !== "";
  if (tokenFromEnv) flags.remoteStoreBearerToken = envToken;
  if (flags.remoteStoreBearerToken !== "" && flags.remoteStoreBearerTokenFile !== "") {
    const source = tokenFromEnv ? ` (set from $${BEARER_TOKEN_ENV})` : "";
    throw new FlagError(
      SECRET_FLAG,
      `flags --${SECRET_FLAG}${source} and --remote-store-bearer-token-file cannot be used together`,
    );
  }
  return { kind: "run", flags };
}

// Wraps a parser's complaint into the one-line error, quoting the value unless it is the token.
function convert(spec: FlagSpec, raw: string, parse: (raw: string) => unknown): unknown {
  try {
    return parse(raw);
  } catch (e) {
    if (!(e instanceof ValueError)) throw e;
    const shown = spec.name === SECRET_FLAG ? "" : ` ${JSON.stringify(raw)}`;
    throw new FlagError(spec.name, `invalid value${shown} for flag --${spec.name}: ${e.message}`, {
      cause: e,
    });
  }
}

function unknownFlag(name: string, typed: string): FlagError {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const known of KNOWN_NAMES) {
    const d = editDistance(name, known);
    if (d < bestDistance) [best, bestDistance] = [known, d];
  }
  // Small enough to be a typo, not a different word: at most 3 edits and a third of the name.
  const limit = Math.max(1, Math.min(3, Math.floor(name.length / 3)));
  const hint = best !== undefined && bestDistance <= limit ? ` (did you mean --${best}?)` : "";
  return new FlagError(name, `unknown flag ${typed}${hint}`);
}

function positional(arg: string, boolBefore: string | undefined): FlagError {
  if (boolBefore !== undefined && (arg === "true" || arg === "false")) {
    return new FlagError(
      boolBefore,
      `unexpected argument "${arg}": write --${boolBefore}=${arg} to set a boolean flag`,
    );
  }
  return new FlagError(
    "",
    `unexpected argument ${
      JSON.stringify(arg)
    }: the agent takes flags only, no positional arguments`,
  );
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Lists the flags whose value differs from the default, in help order.
 *
 * @param flags Parsed flags.
 * @param defaults The defaults to compare with (`--node`'s depends on the host name).
 * @returns Flag names without leading dashes, such as `"remote-store-address"`.
 *
 * @example Finding what a user changed
 * ```ts
 * import { changedFlags, defaultFlags } from "./flags.ts";
 * const flags = { ...defaultFlags("node-a"), profilingCpuSamplingFrequency: 99 };
 * console.assert(changedFlags(flags, defaultFlags("node-a"))[0] === "profiling-cpu-sampling-frequency");
 * ```
 */
export function changedFlags(
  flags: AgentFlags,
  defaults: AgentFlags = defaultFlags(),
): string[] {
  return FLAG_SPECS.filter((s) => !sameValue(flags[s.key], defaults[s.key])).map((s) => s.name);
}

/**
 * Warns about flags that are set but do nothing in this build, one line each.
 *
 * A flag warns when it differs from its default and is not in `implemented`. The Go runtime
 * settings (`--mutex-profile-fraction`, `--block-profile-rate`) always warn when non-zero, and
 * `--analytics-opt-out` never does, since this agent sends no analytics. Lines name flags only,
 * never values, so the bearer token cannot leak through them.
 *
 * @param flags Parsed flags.
 * @param implemented Names of the flags (without dashes) that take effect in this build.
 * @param defaults The defaults to compare with.
 * @returns Warning lines, in help order.
 *
 * @example Warning about a remote store that is not there yet
 * ```ts
 * import { defaultFlags, noEffectWarnings } from "./flags.ts";
 * const flags = { ...defaultFlags("node-a"), remoteStoreAddress: "parca:7070" };
 * const lines = noEffectWarnings(flags, new Set(), defaultFlags("node-a"));
 * console.assert(lines[0].startsWith("flag --remote-store-address has no effect yet"));
 * ```
 */
export function noEffectWarnings(
  flags: AgentFlags,
  implemented: ReadonlySet<string>,
  defaults: AgentFlags = defaultFlags(),
): string[] {
  const changed = new Set(changedFlags(flags, defaults));
  const out: string[] = [];
  for (const s of FLAG_SPECS) {
    if (!changed.has(s.name) || ALWAYS_MET_FLAGS.has(s.name)) continue;
    if (GO_RUNTIME_FLAGS.has(s.name)) {
      out.push(
        `flag --${s.name} is a Go runtime setting and has no meaning in this agent; ignored`,
      );
    } else if (!implemented.has(s.name)) {
      out.push(
        `flag --${s.name} has no effect yet: ${s.feature} is not implemented in this version`,
      );
    }
  }
  return out;
}
