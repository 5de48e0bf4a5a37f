// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// node:assert stands in for @std/assert, which lives on JSR and cannot be fetched here.
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import {
  type AgentFlags,
  changedFlags,
  defaultFlags,
  FlagError,
  helpText,
  noEffectWarnings,
  parseFlags,
} from "./mod.ts";
import { FLAG_SPECS } from "./_table.ts";

const HOST = "node-a";
/** Parca Agent's --help, the reference the help text must contain (a golden file in the repo). */
const SEED_HELP = new URL("../../tests/testdata/seed-help.txt", import.meta.url);

function run(args: string[], env: Record<string, string | undefined> = {}): AgentFlags {
  const r = parseFlags(args, env, { hostname: HOST });
  if (r.kind !== "run") throw new Error(`expected a run, got ${r.kind}`);
  return r.flags;
}

// Asserts a FlagError naming `flag`, with a one-line message containing `text`.
function rejects(args: string[], flag: string, text: string, env = {}): FlagError {
  let caught: unknown;
  try {
    parseFlags(args, env, { hostname: HOST });
  } catch (e) {
    caught = e;
  }
  ok(caught instanceof FlagError, `${JSON.stringify(args)} should throw a FlagError`);
  equal(caught.flag, flag, caught.message);
  ok(caught.message.includes(text), `"${caught.message}" should contain "${text}"`);
  ok(!caught.message.includes("\n"), "the message is one line");
  ok(!caught.message.endsWith("."), "the message has no final period");
  if (flag !== "") ok(caught.message.includes(`-${flag}`), "the message names the flag");
  return caught;
}

Deno.test("defaultFlags() matches the seed's defaults", () => {
  deepStrictEqual(
    defaultFlags(HOST),
    {
      logLevel: "info",
      logFormat: "logfmt",
      httpAddress: "127.0.0.1:7071",
      httpAllowedHosts: [],
      httpRawLabels: false,
      node: HOST,
      configPath: "",
      memlockRlimit: 0,
      mutexProfileFraction: 0,
      blockProfileRate: 0,
      profilingDurationMs: 10_000,
      profilingCpuSamplingFrequency: 19,
      profilingPerfEventBufferPollIntervalMs: 250,
      profilingPerfEventBufferProcessingIntervalMs: 100,
      profilingPerfEventBufferWorkerCount: 4,
      metadataExternalLabels: [],
      metadataContainerRuntimeSocketPath: "",
      metadataDisableCaching: false,
      localStoreDirectory: "",
      localStoreSymbolize: false,
      httpUiHistorySize: 16 << 20,
      remoteStoreAddress: "",
      remoteStoreBearerToken: "",
      remoteStoreBearerTokenFile: "",
      remoteStoreInsecure: false,
      remoteStoreInsecureSkipVerify: false,
      remoteStoreBatchWriteIntervalMs: 10_000,
      remoteStoreRpcLoggingEnable: false,
      remoteStoreRpcUnaryTimeoutMs: 300_000,
      debuginfoDirectories: ["/usr/lib/debug"],
      debuginfoTempDir: "/tmp",
      debuginfoStrip: true,
      debuginfoCompress: false,
      debuginfoUploadDisable: false,
      debuginfoUploadMaxParallel: 25,
      debuginfoUploadTimeoutMs: 120_000,
      debuginfoUploadCacheMs: 300_000,
      debuginfoDisableCaching: false,
      symbolizerJitDisable: false,
      otlpAddress: "",
      otlpExporter: "grpc",
      objectFilePoolEvictionPolicy: "lru",
      objectFilePoolSize: 100,
      dwarfUnwindingDisable: false,
      dwarfUnwindingMixed: true,
      pythonUnwindingDisable: false,
      rubyUnwindingDisable: false,
      analyticsOptOut: false,
      telemetryDisablePanicReporting: false,
      telemetryStderrBufferSizeKb: 4096,
      bpfVerboseLogging: false,
      bpfEventsBufferSize: 8192,
    } satisfies AgentFlags,
  );
});

Deno.test("defaultFlags() uses the host name for --node and returns fresh arrays", () => {
  equal(defaultFlags().node, Deno.hostname());
  const a = defaultFlags(HOST);
  a.debuginfoDirectories.push("/x");
  deepStrictEqual(defaultFlags(HOST).debuginfoDirectories, ["/usr/lib/debug"]);
});

Deno.test("parseFlags() gives the defaults for an empty command line", () => {
  deepStrictEqual(run([]), defaultFlags(HOST));
  equal((parseFlags([], {}) as { flags: AgentFlags }).flags.node, Deno.hostname());
});

Deno.test("parseFlags() has one flag per field, each with a default", () => {
  const keys = FLAG_SPECS.map((s) => s.key).sort();
  deepStrictEqual(keys, Object.keys(defaultFlags(HOST)).sort());
  equal(new Set(keys).size, keys.length);
});

Deno.test("parseFlags() returns help for -h and --help, and version for --version", () => {
  deepStrictEqual(parseFlags(["-h"], {}, { hostname: HOST }), { kind: "help" });
  deepStrictEqual(parseFlags(["--help"], {}, { hostname: HOST }), { kind: "help" });
  deepStrictEqual(parseFlags(["--version"], {}, { hostname: HOST }), { kind: "version" });
  // They end parsing, so help is reachable whatever follows.
  deepStrictEqual(parseFlags(["--help", "--bogus"], {}, { hostname: HOST }), { kind: "help" });
  deepStrictEqual(parseFlags(["--log-level=debug", "--version", "x"], {}, { hostname: HOST }), {
    kind: "version",
  });
  rejects(["--help=true"], "help", "flag --help takes no value");
});

Deno.test("parseFlags() accepts --flag=value and --flag value", () => {
  const f = run([
    "--log-level=debug",
    "--log-format",
    "json",
    "--node",
    "n1",
    "--http-address=[::1]:0",
    "--otlp-exporter=stdout",
    "--object-file-pool-eviction-policy",
    "lfu",
    "--profiling-cpu-sampling-frequency=99",
    "--remote-store-address",
    "grpc.example.com:443",
  ]);
  equal(f.logLevel, "debug");
  equal(f.logFormat, "json");
  equal(f.node, "n1");
  equal(f.httpAddress, "[::1]:0");
  equal(f.otlpExporter, "stdout");
  equal(f.objectFilePoolEvictionPolicy, "lfu");
  equal(f.profilingCpuSamplingFrequency, 99);
  equal(f.remoteStoreAddress, "grpc.example.com:443");
});

Deno.test("parseFlags() keeps the last value of a repeated flag", () => {
  equal(run(["--log-level=debug", "--log-level=warn"]).logLevel, "warn");
  equal(run(["--debuginfo-strip", "--no-debuginfo-strip"]).debuginfoStrip, false);
});

Deno.test("parseFlags() reads booleans as --flag, --flag=true|false and --no-flag", () => {
  equal(run(["--remote-store-insecure"]).remoteStoreInsecure, true);
  equal(run(["--remote-store-insecure=true"]).remoteStoreInsecure, true);
  equal(run(["--remote-store-insecure=false"]).remoteStoreInsecure, false);
  equal(run(["--no-remote-store-insecure"]).remoteStoreInsecure, false);
  // The two flags whose default is true can only be turned off this way.
  equal(run(["--no-debuginfo-strip"]).debuginfoStrip, false);
  equal(run(["--debuginfo-strip=false"]).debuginfoStrip, false);
  equal(run(["--no-dwarf-unwinding-mixed"]).dwarfUnwindingMixed, false);
  equal(run(["--dwarf-unwinding-mixed=false"]).dwarfUnwindingMixed, false);
});

Deno.test("parseFlags() rejects bad boolean forms", () => {
  rejects(["--debuginfo-strip=no"], "debuginfo-strip", 'invalid value "no"');
  rejects(["--no-debuginfo-strip=true"], "debuginfo-strip", "takes no value");
  rejects(["--debuginfo-strip", "false"], "debuginfo-strip", "--debuginfo-strip=false");
  rejects(["--no-log-level"], "no-log-level", "unknown flag --no-log-level");
});

Deno.test("parseFlags() rejects an unknown flag and suggests the closest one", () => {
  const e = rejects(["--foo"], "foo", "unknown flag --foo");
  ok(!e.message.includes("did you mean"), e.message);
  rejects(["--profling-duration=10s"], "profling-duration", "(did you mean --profiling-duration?)");
  rejects(["--nodebuginfo-strip"], "nodebuginfo-strip", "did you mean --no-debuginfo-strip?");
  rejects(["-log-level=info"], "log-level", "unknown flag -log-level (did you mean --log-level?)");
  rejects(["-v"], "v", "unknown flag -v");
});

Deno.test("parseFlags() rejects positional arguments", () => {
  rejects(["run"], "", 'unexpected argument "run"');
  rejects(["--", "x"], "", 'unexpected argument "x"');
  run(["--"]);
});

Deno.test("parseFlags() rejects a missing value", () => {
  rejects(["--log-level"], "log-level", "flag --log-level needs a value");
  rejects(["--node", "--log-level=info"], "node", "needs a value");
  rejects(["--memlock-rlimit", "-1"], "memlock-rlimit", "--memlock-rlimit=VALUE");
});

Deno.test("parseFlags() rejects the deprecated --verbose-bpf-logging", () => {
  rejects(["--verbose-bpf-logging"], "verbose-bpf-logging", "use --bpf-verbose-logging");
  equal(run(["--bpf-verbose-logging"]).bpfVerboseLogging, true);
});

Deno.test("parseFlags() parses Go durations into milliseconds", () => {
  const table: Array<[string, number]> = [
    ["10s", 10_000],
    ["250ms", 250],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["1.5s", 1500],
    ["1500us", 1.5],
    ["1500µs", 1.5],
    ["2000000ns", 2],
    ["1m0.5s", 60_500],
  ];
  for (const [raw, ms] of table) {
    equal(run([`--debuginfo-upload-cache-duration=${raw}`]).debuginfoUploadCacheMs, ms, raw);
  }
  equal(run(["--profiling-duration=1m0.5s"]).profilingDurationMs, 60_500);
  equal(run(["--debuginfo-upload-cache-duration=0"]).debuginfoUploadCacheMs, 0);
});

Deno.test("parseFlags() rejects malformed durations, naming the flag", () => {
  for (const raw of ["10x", "10", "-5s", "", "s", "1.2.3s", "5 m", "1h-1m"]) {
    rejects(
      [`--remote-store-batch-write-interval=${raw}`],
      "remote-store-batch-write-interval",
      `invalid value ${JSON.stringify(raw)} for flag --remote-store-batch-write-interval:`,
    );
  }
  rejects(
    ["--profiling-duration=10x"],
    "profiling-duration",
    'invalid value "10x" for flag --profiling-duration: expected a duration like 10s, 250ms or 5m',
  );
  // A period of zero would spin; a cache time of zero is fine (tested above).
  rejects(["--profiling-duration=0"], "profiling-duration", "expected a duration from 1s to 10m");
  rejects(["--profiling-duration=0s"], "profiling-duration", "from 1s to 10m");
});

// Issue 9: `--profiling-duration=1000000h` was accepted and overflowed the window timer into a
// 1 ms period (~100 windows a second at 99 % CPU); a nanosecond period spins the same way.
Deno.test("parseFlags() bounds every duration flag so that no timer can overflow or spin", () => {
  const bounds: Array<[string, string, string]> = [
    ["profiling-duration", "1s", "10m"],
    ["profiling-perf-event-buffer-poll-interval", "10ms", "1m"],
    ["profiling-perf-event-buffer-processing-interval", "10ms", "1m"],
    ["remote-store-batch-write-interval", "1s", "10m"],
    ["remote-store-rpc-unary-timeout", "100ms", "1h"],
    ["debuginfo-upload-timeout-duration", "1s", "1h"],
  ];
  for (const [flag, min, max] of bounds) {
    run([`--${flag}=${min}`]);
    run([`--${flag}=${max}`]);
    for (const bad of ["1000000h", "2562047h", "1ns", "24h1ns"]) {
      rejects([`--${flag}=${bad}`], flag, `expected a duration from ${min} to ${max}`);
    }
  }
  rejects(
    ["--debuginfo-upload-cache-duration=1000000h"],
    "debuginfo-upload-cache-duration",
    "expected a duration of at most 24h",
  );
});

Deno.test("parseFlags() parses integers strictly, within their ranges", () => {
  equal(run(["--profiling-cpu-sampling-frequency=10000"]).profilingCpuSamplingFrequency, 10000);
  equal(run(["--object-file-pool-size=0"]).objectFilePoolSize, 0);
  equal(run(["--mutex-profile-fraction=-1"]).mutexProfileFraction, -1);
  const bad: Array<[string, string, string]> = [
    ["profiling-cpu-sampling-frequency", "12abc", "expected an integer from 1 to 10000"],
    ["profiling-cpu-sampling-frequency", "0", "from 1 to 10000"],
    ["profiling-cpu-sampling-frequency", "10001", "from 1 to 10000"],
    ["profiling-cpu-sampling-frequency", "19.5", "integer"],
    ["profiling-perf-event-buffer-worker-count", "0", "at least 1"],
    ["object-file-pool-size", "-1", "not negative"],
    ["debuginfo-upload-max-parallel", "0", "at least 1"],
    ["telemetry-stderr-buffer-size-kb", "0", "at least 1"],
    ["telemetry-stderr-buffer-size-kb", "", "at least 1"],
    ["block-profile-rate", "1e3", "expected an integer"],
    ["object-file-pool-size", "99999999999999999999", "integer"],
  ];
  for (const [flag, raw, text] of bad) rejects([`--${flag}=${raw}`], flag, text);
});

Deno.test("parseFlags() accepts only powers of two of at least 32 for --bpf-events-buffer-size", () => {
  equal(run(["--bpf-events-buffer-size=32"]).bpfEventsBufferSize, 32);
  equal(run(["--bpf-events-buffer-size=65536"]).bpfEventsBufferSize, 65536);
  for (const raw of ["16", "100", "0", "8k", "-64"]) {
    rejects([`--bpf-events-buffer-size=${raw}`], "bpf-events-buffer-size", "power of two");
  }
});

Deno.test("parseFlags() reads --memlock-rlimit as bytes or a binary size", () => {
  const table: Array<[string, number]> = [
    ["0", 0],
    ["4096", 4096],
    ["8k", 8192],
    ["8K", 8192],
    ["8KiB", 8192],
    ["64MiB", 64 * 2 ** 20],
    ["512M", 512 * 2 ** 20],
    ["1G", 2 ** 30],
    ["2GiB", 2 ** 31],
  ];
  for (const [raw, bytes] of table) {
    equal(run([`--memlock-rlimit=${raw}`]).memlockRlimit, bytes, raw);
  }
  for (const raw of ["", "1.5G", "64MB", "1T", "-1", "M", "64 MiB"]) {
    rejects([`--memlock-rlimit=${raw}`], "memlock-rlimit", "invalid value");
  }
});

Deno.test("parseFlags() validates enum flags", () => {
  rejects(["--log-level=trace"], "log-level", "expected one of error, warn, info, debug");
  rejects(["--log-level=INFO"], "log-level", "expected one of");
  rejects(["--log-format=text"], "log-format", "expected one of logfmt, json");
  rejects(["--otlp-exporter=zipkin"], "otlp-exporter", "expected one of grpc, http, stdout");
  rejects(["--object-file-pool-eviction-policy=fifo"], "object-file-pool-eviction-policy", "lru");
});

Deno.test("parseFlags() parses external labels in order", () => {
  deepStrictEqual(
    run(["--metadata-external-labels=env=prod;region=eu-1;"]).metadataExternalLabels,
    [
      ["env", "prod"],
      ["region", "eu-1"],
    ],
  );
  // Values may hold "=", and repeated uses add labels.
  deepStrictEqual(
    run(["--metadata-external-labels", "q=a=b", "--metadata-external-labels=_z=1"])
      .metadataExternalLabels,
    [["q", "a=b"], ["_z", "1"]],
  );
  deepStrictEqual(run(["--metadata-external-labels="]).metadataExternalLabels, []);
});

Deno.test("parseFlags() rejects bad external labels", () => {
  const bad: Array<[string, string]> = [
    ["env=prod;;a=b", "empty label entry"],
    [";env=prod", "empty label entry"],
    [";", "empty label entry"],
    ["env", 'has no "="'],
    ["1env=x", "is not valid"],
    ["my-label=x", "is not valid"],
    ["=x", "is not valid"],
    ["__name__=x", "reserved"],
    ["env=", "empty value"],
    ["env=a;env=b", "more than once"],
  ];
  for (const [raw, text] of bad) {
    rejects([`--metadata-external-labels=${raw}`], "metadata-external-labels", text);
  }
  rejects(
    ["--metadata-external-labels=env=a", "--metadata-external-labels=env=b"],
    "metadata-external-labels",
    "more than once",
  );
});

Deno.test("parseFlags() replaces then extends the default debuginfo directories", () => {
  deepStrictEqual(run(["--debuginfo-directories=/a,/b"]).debuginfoDirectories, ["/a", "/b"]);
  deepStrictEqual(
    run(["--debuginfo-directories=/a", "--debuginfo-directories", "/b"]).debuginfoDirectories,
    ["/a", "/b"],
  );
  for (const raw of ["", "/a,", ",/a", "/a,,/b"]) {
    rejects([`--debuginfo-directories=${raw}`], "debuginfo-directories", "no empty items");
  }
});

Deno.test("parseFlags() checks host:port addresses", () => {
  for (const ok of ["0.0.0.0:7071", ":7071", "localhost:0", "[::]:7071", "[fe80::1%eth0]:80"]) {
    equal(run([`--http-address=${ok}`]).httpAddress, ok);
  }
  const bad: Array<[string, string]> = [
    ["127.0.0.1", "missing port"],
    ["127.0.0.1:", "port from 0 to 65535"],
    ["127.0.0.1:65536", "port from 0 to 65535"],
    ["127.0.0.1:http", "port from 0 to 65535"],
    ["::1:7071", "needs brackets"],
    ["[::1:7071", 'missing "]"'],
    ["[host]:7071", "not an IPv6 address"],
    ["", "missing port"],
  ];
  for (const [raw, text] of bad) rejects([`--http-address=${raw}`], "http-address", text);
  equal(run(["--remote-store-address="]).remoteStoreAddress, "");
  rejects(["--remote-store-address=:7070"], "remote-store-address", "missing host");
  rejects(["--remote-store-address=parca:0"], "remote-store-address", "port from 1 to 65535");
  rejects(["--remote-store-address=parca"], "remote-store-address", "missing port");
});

Deno.test("parseFlags() rejects empty values where a value is needed", () => {
  rejects(["--node="], "node", "expected a node name");
  rejects(["--debuginfo-temp-dir="], "debuginfo-temp-dir", "expected a directory path");
});

Deno.test("parseFlags() takes the bearer token from PARCA_BEARER_TOKEN unless the flag is given", () => {
  equal(run([], { PARCA_BEARER_TOKEN: "env-secret" }).remoteStoreBearerToken, "env-secret");
  equal(
    run(["--remote-store-bearer-token=flag-secret"], { PARCA_BEARER_TOKEN: "env-secret" })
      .remoteStoreBearerToken,
    "flag-secret",
  );
  equal(run([], { PARCA_BEARER_TOKEN: "" }).remoteStoreBearerToken, "");
  equal(run([], { PARCA_BEARER_TOKEN: undefined }).remoteStoreBearerToken, "");
});

Deno.test("parseFlags() rejects a bearer token together with a token file, without the token", () => {
  const a = rejects(
    ["--remote-store-bearer-token=s3cr3t", "--remote-store-bearer-token-file=/t"],
    "remote-store-bearer-token",
    "cannot be used together",
  );
  ok(!a.message.includes("s3cr3t"));
  const b = rejects(
    ["--remote-store-bearer-token-file=/t"],
    "remote-store-bearer-token",
    "(set from $PARCA_BEARER_TOKEN)",
    { PARCA_BEARER_TOKEN: "s3cr3t" },
  );
  ok(!b.message.includes("s3cr3t"));
});

Deno.test("changedFlags() lists flags that differ from their defaults, in help order", () => {
  const defaults = defaultFlags(HOST);
  deepStrictEqual(changedFlags(run([]), defaults), []);
  deepStrictEqual(
    changedFlags(
      run(["--no-debuginfo-strip", "--log-level=debug", "--debuginfo-directories=/a"]),
      defaults,
    ),
    ["log-level", "debuginfo-directories", "debuginfo-strip"],
  );
  // Giving a default explicitly is not a change.
  deepStrictEqual(changedFlags(run(["--profiling-duration=10000ms"]), defaults), []);
  deepStrictEqual(changedFlags(run(["--node=other"]), defaults), ["node"]);
});

Deno.test("noEffectWarnings() warns once per changed flag that is not implemented", () => {
  const defaults = defaultFlags(HOST);
  const flags = run([
    "--remote-store-address=parca:7070",
    "--http-address=:7072",
    "--mutex-profile-fraction=5",
    "--block-profile-rate=1",
    "--analytics-opt-out",
  ]);
  deepStrictEqual(noEffectWarnings(flags, new Set(["http-address"]), defaults), [
    "flag --mutex-profile-fraction is a Go runtime setting and has no meaning in this agent; ignored",
    "flag --block-profile-rate is a Go runtime setting and has no meaning in this agent; ignored",
    "flag --remote-store-address has no effect yet: the remote store is not implemented in this version",
  ]);
  // The Go runtime flags warn even when a caller lists them as implemented.
  equal(
    noEffectWarnings(flags, new Set(["mutex-profile-fraction", "remote-store-address"]), defaults)
      .length,
    3,
  );
  deepStrictEqual(noEffectWarnings(run([]), new Set(), defaults), []);
});

Deno.test("noEffectWarnings() never includes the bearer token", () => {
  const token = "tok-0123456789-secret";
  for (
    const args of [
      [`--remote-store-bearer-token=${token}`],
      [],
    ]
  ) {
    const flags = run(args, { PARCA_BEARER_TOKEN: token });
    const lines = noEffectWarnings(flags, new Set(), defaultFlags(HOST));
    ok(lines.some((l) => l.includes("--remote-store-bearer-token")), "the flag is named");
    for (const l of lines) ok(!l.includes(token), l);
  }
});

Deno.test("parseFlags() never quotes the bearer token in an error", () => {
  const token = "tok-0123456789-secret";
  for (
    const args of [
      ["--remote-store-bearer-token", token, "--bogus"],
      [`--remote-store-bearer-token=${token}`, "--remote-store-bearer-token-file=/t"],
      [`--remote-store-bearer-tokn=${token}`],
    ]
  ) {
    try {
      parseFlags(args, {}, { hostname: HOST });
      ok(false, "should throw");
    } catch (e) {
      ok(e instanceof FlagError);
      ok(!e.message.includes(token), e.message);
    }
  }
});

// Normalizes help text as seed-help.txt was written: each line trimmed, blank lines dropped, runs
// of spaces collapsed. The seed also spells kong's "($PARCA_BEARER_TOKEN)" as
// "( $ PARCA_BEARER_TOKEN)", which is undone here rather than copied into the help.
function normalize(text: string): string[] {
  return text.split("\n").map((l) =>
    l.trim().replace(/\s+/g, " ").replace(/\( \$ (\w+)\)/, "($$$1)")
  )
    .filter((l) => l !== "");
}

Deno.test("helpText() contains every line of seed-help.txt, in order, plus only the notes", () => {
  const seed = Deno.readTextFileSync(SEED_HELP);
  const want = normalize(seed);
  const got = normalize(helpText());
  const extra: string[] = [];
  let j = 0;
  for (const line of got) {
    if (j < want.length && line === want[j]) j++;
    else extra.push(line);
  }
  equal(j, want.length, `seed line not found in order: ${want[j]}`);
  deepStrictEqual(extra, [
    // Additions to the reference's flags (issue 9).
    "--http-allowed-hosts=HOST,...",
    "Host names the HTTP server answers besides IP",
    "addresses, localhost and the --http-address",
    "host (DNS rebinding protection); * allows all.",
    "--http-raw-labels Serve /?labels=raw: every process's labels",
    "before relabeling, command lines included.",
    "A Go runtime setting with no meaning in this",
    "agent; accepted for compatibility and ignored.",
    "A Go runtime setting with no meaning in this",
    "agent; accepted for compatibility and ignored.",
    "--local-store-symbolize Name native frames (function, file, line,",
    "inline frames) in the profiles written to",
    "the local store, so pprof needs no binaries.",
    "An addition of this agent.",
    '--http-ui-history-size="16MiB"',
    "Bytes of recent profiles kept in memory for",
    "the flame graph UI (/ui); 0 turns the UI",
    "off. An addition of this agent.",
    "This agent never sends usage analytics",
    "anywhere; accepted for compatibility.",
  ]);
});
