// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The flag table: every flag of `reference/seed-help.txt`, in its order, with its default, its
 * parser and its help lines.
 *
 * Help lines are stored already wrapped, exactly as the reference agent prints them. Its help
 * comes from kong through Go's `go/doc/comment`, which wraps to minimise raggedness rather than
 * greedily; copying the lines keeps the output identical without re-implementing that algorithm.
 * New lines are wrapped by hand to the same 47-column width, which a test checks.
 *
 * @module
 */

import type { AgentFlags, LogFormat, LogLevel, OtlpExporter, PoolEvictionPolicy } from "./flags.ts";
import {
  ANY_INT,
  parseDuration,
  parseEnum,
  parseHostPort,
  parseInteger,
  parseLabels,
  parseList,
  parsePowerOfTwo,
  parseSize,
  ValueError,
} from "./_values.ts";

/** One flag that sets a field of {@link AgentFlags}, with its types erased for table walking. */
export interface FlagSpec {
  /** Kebab-case name, without the leading `--`. */
  readonly name: string;
  /** The field of {@link AgentFlags} it sets. */
  readonly key: keyof AgentFlags;
  /** What follows the name in the help's left column: `="info"`, `=STRING`, or `""`. */
  readonly placeholder: string;
  /** Help lines, pre-wrapped. */
  readonly help: readonly string[];
  /** Whether it is a boolean (`--x`, `--x=false`, `--no-x`). */
  readonly bool: boolean;
  /** Parses one use; `previous` is the value of earlier uses, `undefined` on the first. */
  readonly parse: (raw: string, previous: unknown) => unknown;
  /** The default, given the machine's host name (the default of `--node`). */
  readonly defaultValue: (hostname: string) => unknown;
  /** What does not work yet while this flag has no effect ("the remote store"). */
  readonly feature: string;
}

interface TypedSpec<K extends keyof AgentFlags> {
  name: string;
  key: K;
  placeholder?: string;
  help: readonly string[];
  parse: (raw: string, previous: AgentFlags[K] | undefined) => AgentFlags[K];
  defaultValue: AgentFlags[K] | ((hostname: string) => AgentFlags[K]);
  feature: string;
}

// Checks each entry against its field's type where it is written, then erases the type so the
// table can be one array.
function spec<K extends keyof AgentFlags>(s: TypedSpec<K>): FlagSpec {
  const d = s.defaultValue;
  return {
    name: s.name,
    key: s.key,
    placeholder: s.placeholder ?? "",
    help: s.help,
    bool: false,
    parse: s.parse as (raw: string, previous: unknown) => unknown,
    defaultValue: typeof d === "function" ? d as (h: string) => unknown : () => clone(d),
    feature: s.feature,
  };
}

type BoolKey = { [K in keyof AgentFlags]: AgentFlags[K] extends boolean ? K : never }[
  keyof AgentFlags
];

function boolSpec(
  s: {
    name: string;
    key: BoolKey;
    help: readonly string[];
    defaultValue: boolean;
    feature: string;
  },
): FlagSpec {
  return {
    ...s,
    placeholder: "",
    bool: true,
    // Booleans never reach parse with text: the flag parser reads `=true`/`=false` itself.
    parse: () => {
      throw new ValueError("expected true or false");
    },
    defaultValue: () => s.defaultValue,
  };
}

function clone<T>(v: T): T {
  return Array.isArray(v) ? v.map((x) => Array.isArray(x) ? [...x] : x) as T : v;
}

function str(nonEmpty: string | undefined): (raw: string) => string {
  return (raw) => {
    if (nonEmpty !== undefined && raw === "") throw new ValueError(nonEmpty);
    return raw;
  };
}

function int(min: number, max = Number.MAX_SAFE_INTEGER): (raw: string) => number {
  return (raw) => parseInteger(raw, { min, max });
}

/**
 * A duration flag's parser, bounded on both ends: a period of zero or a nanosecond spins the
 * agent, and one past 2^31 - 1 ms overflows the timers that use it into a 1 ms period (so
 * `--profiling-duration=1000000h` once made ~100 windows a second). The bounds are sane
 * operating ranges, far inside both.
 */
function duration(minMs: number, maxMs: number): (raw: string) => number {
  return (raw) => {
    const ms = parseDuration(raw);
    if (ms < minMs || ms > maxMs) {
      const range = minMs === 0
        ? `of at most ${formatMs(maxMs)}`
        : `from ${formatMs(minMs)} to ${formatMs(maxMs)}`;
      throw new ValueError(`expected a duration ${range}`);
    }
    return ms;
  };
}

/** A bound as the user would write it: 100ms, 1s, 10m, 24h. */
function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

const LOG_LEVELS: readonly LogLevel[] = ["error", "warn", "info", "debug"];
const LOG_FORMATS: readonly LogFormat[] = ["logfmt", "json"];
const OTLP_EXPORTERS: readonly OtlpExporter[] = ["grpc", "http", "stdout"];
const EVICTION_POLICIES: readonly PoolEvictionPolicy[] = ["lru", "lfu"];

/** Flags kept only so that command lines written for the Go agent still parse. */
export const GO_RUNTIME_FLAGS: ReadonlySet<string> = new Set([
  "mutex-profile-fraction",
  "block-profile-rate",
]);

/** Flags whose purpose this agent meets by design, so setting them never needs a warning. */
export const ALWAYS_MET_FLAGS: ReadonlySet<string> = new Set(["analytics-opt-out"]);

/** The environment variable that gives `--remote-store-bearer-token` its default. */
export const BEARER_TOKEN_ENV = "PARCA_BEARER_TOKEN";

/** The flag whose value is a secret, never to be echoed. */
export const SECRET_FLAG = "remote-store-bearer-token";

/** A row of the help: a flag of the table, or one of the three flags that end parsing. */
export type HelpRow =
  | { readonly kind: "flag"; readonly spec: FlagSpec }
  | {
    readonly kind: "help" | "version" | "deprecated";
    readonly name: string;
    readonly help: readonly string[];
  };

const f = (s: FlagSpec): HelpRow => ({ kind: "flag", spec: s });

/** Every row of `--help`, in the reference's order. */
export const HELP_ROWS: readonly HelpRow[] = [
  { kind: "help", name: "help", help: ["Show context-sensitive help."] },
  f(spec({
    name: "log-level",
    key: "logLevel",
    placeholder: '="info"',
    help: ["Log level."],
    parse: (raw) => parseEnum(raw, LOG_LEVELS),
    defaultValue: "info",
    feature: "log configuration",
  })),
  f(spec({
    name: "log-format",
    key: "logFormat",
    placeholder: '="logfmt"',
    help: ["Configure if structured logging as JSON or as", "logfmt"],
    parse: (raw) => parseEnum(raw, LOG_FORMATS),
    defaultValue: "logfmt",
    feature: "log configuration",
  })),
  f(spec({
    name: "http-address",
    key: "httpAddress",
    placeholder: '="127.0.0.1:7071"',
    help: ["Address to bind HTTP server to."],
    parse: (raw) => parseHostPort(raw, { allowEmptyHost: true, allowPortZero: true }),
    defaultValue: "127.0.0.1:7071",
    feature: "the HTTP server",
  })),
  f(spec({
    name: "http-allowed-hosts",
    key: "httpAllowedHosts",
    placeholder: "=HOST,...",
    help: [
      "Host names the HTTP server answers besides IP",
      "addresses, localhost and the --http-address",
      "host (DNS rebinding protection); * allows all.",
    ],
    parse: (raw, previous) => [...(previous ?? []), ...parseList(raw)],
    defaultValue: [],
    feature: "the HTTP server",
  })),
  f(boolSpec({
    name: "http-raw-labels",
    key: "httpRawLabels",
    help: [
      "Serve /?labels=raw: every process's labels",
      "before relabeling, command lines included.",
    ],
    defaultValue: false,
    feature: "the HTTP server",
  })),
  { kind: "version", name: "version", help: ["Show application version."] },
  f(spec({
    name: "node",
    key: "node",
    // The reference shows the word, not this machine's name, so the help is the same everywhere.
    placeholder: '="hostname"',
    help: [
      "The name of the node that the process is",
      "running on. If on Kubernetes, this must match",
      "the Kubernetes node name.",
    ],
    parse: str("expected a node name"),
    defaultValue: (hostname) => hostname,
    feature: "the node label",
  })),
  f(spec({
    name: "config-path",
    key: "configPath",
    placeholder: '=""',
    help: ["Path to config file."],
    parse: str(undefined),
    defaultValue: "",
    feature: "the config file",
  })),
  f(spec({
    name: "memlock-rlimit",
    key: "memlockRlimit",
    placeholder: "=0",
    help: [
      "The value for the maximum number of bytes",
      "of memory that may be locked into RAM. It is",
      "used to ensure the agent can lock memory for",
      "eBPF maps. 0 means no limit.",
    ],
    parse: parseSize,
    defaultValue: 0,
    feature: "raising RLIMIT_MEMLOCK",
  })),
  f(spec({
    name: "mutex-profile-fraction",
    key: "mutexProfileFraction",
    placeholder: "=0",
    help: [
      "Fraction of mutex profile samples to collect.",
      "A Go runtime setting with no meaning in this",
      "agent; accepted for compatibility and ignored.",
    ],
    // Go takes any int here; old command lines may say -1, so signed values still parse.
    parse: (raw) => parseInteger(raw, ANY_INT, true),
    defaultValue: 0,
    feature: "the Go runtime",
  })),
  f(spec({
    name: "block-profile-rate",
    key: "blockProfileRate",
    placeholder: "=0",
    help: [
      "Sample rate for block profile.",
      "A Go runtime setting with no meaning in this",
      "agent; accepted for compatibility and ignored.",
    ],
    parse: (raw) => parseInteger(raw, ANY_INT, true),
    defaultValue: 0,
    feature: "the Go runtime",
  })),
  f(spec({
    name: "profiling-duration",
    key: "profilingDurationMs",
    placeholder: "=10s",
    help: ["The agent profiling duration to use. Leave", "this empty to use the defaults."],
    parse: duration(SECOND, 10 * MINUTE),
    defaultValue: 10_000,
    feature: "the profiler",
  })),
  f(spec({
    name: "profiling-cpu-sampling-frequency",
    key: "profilingCpuSamplingFrequency",
    placeholder: "=19",
    help: ["The frequency at which profiling data is", "collected, e.g., 19 samples per second."],
    // perf_event caps frequencies at kernel.perf_event_max_sample_rate, far below 10000 in
    // practice; the agent warns above 150, where the overhead stops being negligible.
    parse: int(1, 10_000),
    defaultValue: 19,
    feature: "the profiler",
  })),
  f(spec({
    name: "profiling-perf-event-buffer-poll-interval",
    key: "profilingPerfEventBufferPollIntervalMs",
    placeholder: "=250ms",
    help: ["The interval at which the perf event buffer", "is polled for new events."],
    parse: duration(10, MINUTE),
    defaultValue: 250,
    feature: "the BPF event reader",
  })),
  f(spec({
    name: "profiling-perf-event-buffer-processing-interval",
    key: "profilingPerfEventBufferProcessingIntervalMs",
    placeholder: "=100ms",
    help: ["The interval at which the perf event buffer", "is processed."],
    parse: duration(10, MINUTE),
    defaultValue: 100,
    feature: "the BPF event reader",
  })),
  f(spec({
    name: "profiling-perf-event-buffer-worker-count",
    key: "profilingPerfEventBufferWorkerCount",
    placeholder: "=4",
    help: ["The number of workers that process the perf", "event buffer."],
    parse: int(1),
    defaultValue: 4,
    feature: "the BPF event reader",
  })),
  f(spec({
    name: "metadata-external-labels",
    key: "metadataExternalLabels",
    placeholder: "=KEY=VALUE;...",
    help: ["Label(s) to attach to all profiles."],
    // Repeated uses add labels, as kong's map flags do; a name given twice is still an error.
    parse: (raw, previous) => [
      ...(previous ?? []),
      ...parseLabels(raw, new Set((previous ?? []).map(([k]) => k))),
    ],
    defaultValue: [],
    feature: "external labelling",
  })),
  f(spec({
    name: "metadata-container-runtime-socket-path",
    key: "metadataContainerRuntimeSocketPath",
    placeholder: "=STRING",
    help: [
      "The filesystem path to the container runtimes",
      "socket. Leave this empty to use the defaults.",
    ],
    parse: str(undefined),
    defaultValue: "",
    feature: "container metadata lookup",
  })),
  f(boolSpec({
    name: "metadata-disable-caching",
    key: "metadataDisableCaching",
    help: ["Disable caching of metadata."],
    defaultValue: false,
    feature: "metadata caching",
  })),
  f(spec({
    name: "local-store-directory",
    key: "localStoreDirectory",
    placeholder: "=STRING",
    help: ["The local directory to store the profiling", "data."],
    parse: str(undefined),
    defaultValue: "",
    feature: "the local store",
  })),
  // Additions of this agent (Parca Agent has neither).
  f(boolSpec({
    name: "local-store-symbolize",
    key: "localStoreSymbolize",
    help: [
      "Name native frames (function, file, line,",
      "inline frames) in the profiles written to",
      "the local store, so pprof needs no binaries.",
      "An addition of this agent.",
    ],
    defaultValue: false,
    feature: "local symbolization",
  })),
  f(spec({
    name: "http-ui-history-size",
    key: "httpUiHistorySize",
    placeholder: '="16MiB"',
    help: [
      "Bytes of recent profiles kept in memory for",
      "the flame graph UI (/ui); 0 turns the UI",
      "off. An addition of this agent.",
    ],
    parse: parseSize,
    defaultValue: 16 << 20,
    feature: "the UI history",
  })),
  f(spec({
    name: "remote-store-address",
    key: "remoteStoreAddress",
    placeholder: "=STRING",
    help: ["gRPC address to send profiles and symbols to."],
    // Empty means "no remote store", as in the reference.
    parse: (raw) =>
      raw === "" ? raw : parseHostPort(raw, { allowEmptyHost: false, allowPortZero: false }),
    defaultValue: "",
    feature: "the remote store",
  })),
  f(spec({
    name: SECRET_FLAG,
    key: "remoteStoreBearerToken",
    placeholder: "=STRING",
    help: ["Bearer token to authenticate with store", `($${BEARER_TOKEN_ENV}).`],
    parse: str(undefined),
    defaultValue: "",
    feature: "the remote store",
  })),
  f(spec({
    name: "remote-store-bearer-token-file",
    key: "remoteStoreBearerTokenFile",
    placeholder: "=STRING",
    help: ["File to read bearer token from to", "authenticate with store."],
    parse: str(undefined),
    defaultValue: "",
    feature: "the remote store",
  })),
  f(boolSpec({
    name: "remote-store-insecure",
    key: "remoteStoreInsecure",
    help: ["Send gRPC requests via plaintext instead of", "TLS."],
    defaultValue: false,
    feature: "the remote store",
  })),
  f(boolSpec({
    name: "remote-store-insecure-skip-verify",
    key: "remoteStoreInsecureSkipVerify",
    help: ["Skip TLS certificate verification."],
    defaultValue: false,
    feature: "the remote store",
  })),
  f(spec({
    name: "remote-store-batch-write-interval",
    key: "remoteStoreBatchWriteIntervalMs",
    placeholder: "=10s",
    help: [
      "Interval between batch remote client writes.",
      "Leave this empty to use the default value of",
      "10s.",
    ],
    parse: duration(SECOND, 10 * MINUTE),
    defaultValue: 10_000,
    feature: "the remote store",
  })),
  f(boolSpec({
    name: "remote-store-rpc-logging-enable",
    key: "remoteStoreRpcLoggingEnable",
    help: ["Enable gRPC logging."],
    defaultValue: false,
    feature: "the remote store",
  })),
  f(spec({
    name: "remote-store-rpc-unary-timeout",
    key: "remoteStoreRpcUnaryTimeoutMs",
    placeholder: "=5m",
    help: ["Maximum timeout window for unary gRPC", "requests including retries."],
    parse: duration(100, HOUR),
    defaultValue: 300_000,
    feature: "the remote store",
  })),
  f(spec({
    name: "debuginfo-directories",
    key: "debuginfoDirectories",
    placeholder: "=/usr/lib/debug,...",
    help: ["Ordered list of local directories to search", "for debuginfo files."],
    // The first use replaces the default; later uses append, as kong's slice flags do.
    parse: (raw, previous) => [...(previous ?? []), ...parseList(raw)],
    defaultValue: ["/usr/lib/debug"],
    feature: "local debuginfo lookup",
  })),
  f(spec({
    name: "debuginfo-temp-dir",
    key: "debuginfoTempDir",
    placeholder: '="/tmp"',
    help: ["The local directory path to store the interim", "debuginfo files."],
    parse: str("expected a directory path"),
    defaultValue: "/tmp",
    feature: "debuginfo upload",
  })),
  f(boolSpec({
    name: "debuginfo-strip",
    key: "debuginfoStrip",
    help: [
      "Only upload information needed for",
      "symbolization. If false the exact binary the",
      "agent sees will be uploaded unmodified.",
    ],
    defaultValue: true,
    feature: "debuginfo upload",
  })),
  f(boolSpec({
    name: "debuginfo-compress",
    key: "debuginfoCompress",
    help: ["Compress debuginfo files' DWARF sections", "before uploading."],
    defaultValue: false,
    feature: "debuginfo upload",
  })),
  f(boolSpec({
    name: "debuginfo-upload-disable",
    key: "debuginfoUploadDisable",
    help: ["Disable debuginfo collection and upload."],
    defaultValue: false,
    feature: "debuginfo upload",
  })),
  f(spec({
    name: "debuginfo-upload-max-parallel",
    key: "debuginfoUploadMaxParallel",
    placeholder: "=25",
    help: ["The maximum number of debuginfo upload", "requests to make in parallel."],
    parse: int(1),
    defaultValue: 25,
    feature: "debuginfo upload",
  })),
  f(spec({
    name: "debuginfo-upload-timeout-duration",
    key: "debuginfoUploadTimeoutMs",
    placeholder: "=2m",
    help: ["The timeout duration to cancel upload", "requests."],
    parse: duration(SECOND, HOUR),
    defaultValue: 120_000,
    feature: "debuginfo upload",
  })),
  f(spec({
    name: "debuginfo-upload-cache-duration",
    key: "debuginfoUploadCacheMs",
    placeholder: "=5m",
    help: ["The duration to cache debuginfo upload", "responses for."],
    // 0 is meaningful here: do not cache the server's answers.
    parse: duration(0, 24 * HOUR),
    defaultValue: 300_000,
    feature: "debuginfo upload",
  })),
  f(boolSpec({
    name: "debuginfo-disable-caching",
    key: "debuginfoDisableCaching",
    help: ["Disable caching of debuginfo."],
    defaultValue: false,
    feature: "debuginfo caching",
  })),
  f(boolSpec({
    name: "symbolizer-jit-disable",
    key: "symbolizerJitDisable",
    help: ["Disable JIT symbolization."],
    defaultValue: false,
    feature: "JIT symbolization",
  })),
  f(spec({
    name: "otlp-address",
    key: "otlpAddress",
    placeholder: "=STRING",
    help: ["The endpoint to send OTLP traces to."],
    // Not checked as host:port: the http exporter takes a URL.
    parse: str(undefined),
    defaultValue: "",
    feature: "OTLP tracing of the agent",
  })),
  f(spec({
    name: "otlp-exporter",
    key: "otlpExporter",
    placeholder: '="grpc"',
    help: ["The OTLP exporter to use."],
    parse: (raw) => parseEnum(raw, OTLP_EXPORTERS),
    defaultValue: "grpc",
    feature: "OTLP tracing of the agent",
  })),
  f(spec({
    name: "object-file-pool-eviction-policy",
    key: "objectFilePoolEvictionPolicy",
    placeholder: '="lru"',
    help: ["The eviction policy to use for the object", "file pool."],
    parse: (raw) => parseEnum(raw, EVICTION_POLICIES),
    defaultValue: "lru",
    feature: "the object file pool",
  })),
  f(spec({
    name: "object-file-pool-size",
    key: "objectFilePoolSize",
    placeholder: "=100",
    help: [
      "The maximum number of object files to keep in",
      "the pool. This is used to avoid re-reading",
      "object files from disk. It keeps FDs open,",
      "so it should be kept in sync with ulimits.",
      "0 means no limit.",
    ],
    parse: int(0),
    defaultValue: 100,
    feature: "the object file pool",
  })),
  f(boolSpec({
    name: "dwarf-unwinding-disable",
    key: "dwarfUnwindingDisable",
    help: ["Do not unwind using .eh_frame information."],
    defaultValue: false,
    feature: "DWARF unwinding",
  })),
  f(boolSpec({
    name: "dwarf-unwinding-mixed",
    key: "dwarfUnwindingMixed",
    help: ["Unwind using .eh_frame information and frame", "pointers."],
    defaultValue: true,
    feature: "DWARF unwinding",
  })),
  f(boolSpec({
    name: "python-unwinding-disable",
    key: "pythonUnwindingDisable",
    help: ["Disable Python unwinder."],
    defaultValue: false,
    feature: "the Python unwinder",
  })),
  f(boolSpec({
    name: "ruby-unwinding-disable",
    key: "rubyUnwindingDisable",
    help: ["Disable Ruby unwinder."],
    defaultValue: false,
    feature: "the Ruby unwinder",
  })),
  f(boolSpec({
    name: "analytics-opt-out",
    key: "analyticsOptOut",
    help: [
      "Opt out of sending anonymous usage",
      "statistics.",
      "This agent never sends usage analytics",
      "anywhere; accepted for compatibility.",
    ],
    defaultValue: false,
    feature: "usage analytics",
  })),
  f(boolSpec({
    name: "telemetry-disable-panic-reporting",
    key: "telemetryDisablePanicReporting",
    help: [],
    defaultValue: false,
    feature: "panic reporting",
  })),
  f(spec({
    name: "telemetry-stderr-buffer-size-kb",
    key: "telemetryStderrBufferSizeKb",
    placeholder: "=4096",
    help: [],
    parse: int(1),
    defaultValue: 4096,
    feature: "panic reporting",
  })),
  f(boolSpec({
    name: "bpf-verbose-logging",
    key: "bpfVerboseLogging",
    help: ["Enable verbose BPF logging."],
    defaultValue: false,
    feature: "verbose BPF logging",
  })),
  f(spec({
    name: "bpf-events-buffer-size",
    key: "bpfEventsBufferSize",
    placeholder: "=8192",
    help: ["Size in pages of the events buffer."],
    // The reference fails at startup on anything else; 2^30 keeps max_entries within a u32.
    parse: (raw) => parsePowerOfTwo(raw, 32, 2 ** 30),
    defaultValue: 8192,
    feature: "the BPF events buffer",
  })),
  {
    kind: "deprecated",
    name: "verbose-bpf-logging",
    help: ["[deprecated] Use --bpf-verbose-logging.", "Enable verbose BPF logging."],
  },
];

/** The flags that set fields, in help order. */
export const FLAG_SPECS: readonly FlagSpec[] = HELP_ROWS.flatMap((r) =>
  r.kind === "flag" ? [r.spec] : []
);
