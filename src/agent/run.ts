// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The composition root: wires flags, logging, start-up checks, the profiler, the stores and the
 * HTTP server together, and owns the process lifetime (signals, exit codes).
 *
 * @module
 */

import {
  checkPrerequisites,
  errnoName,
  onlineCpus,
  raiseOpenFilesLimit,
  setMemlockRlimit,
} from "../bpf/mod.ts";
import {
  type AgentFlags,
  currentVersion,
  describeFlags,
  FlagError,
  helpText,
  noEffectWarnings,
  parseFlags,
  versionText,
} from "../cli/mod.ts";
import { ProfileBus, startHttpServer, type StatusSnapshot } from "../http/mod.ts";
import {
  type AgentConfig,
  ConfigWatcher,
  loadConfigFile,
  recordReload,
  startLabels,
} from "../labels/mod.ts";
import { AGENT_MALLOC, runPermissionProbe } from "../launcher/mod.ts";
import { recordSpan, startTracing } from "../tracing/mod.ts";
import * as procfs from "../procfs/mod.ts";
import { configureLogging, getLogger } from "../log/mod.ts";
import { metrics } from "../metrics/mod.ts";
import { profileToText } from "../pprof/mod.ts";
import type { Profile } from "../pprof/mod.ts";
import { InterpreterTracker } from "../interp/mod.ts";
import { ObjectFilePool, ProcessReader, ProcessRecords } from "../process/mod.ts";
import { BuilderPool, Unwinder } from "../unwind/mod.ts";
import { CpuProfiler, PROFILER_NAME, type ProfileSink } from "../profiler/mod.ts";
import { LocalStore, readBearerToken } from "../store/mod.ts";
import { JitSymbols, KernelSymbols, LocalSymbolizer, VdsoSymbols } from "../symbolize/mod.ts";
import { watchSupervisor } from "../telemetry/mod.ts";
import { ProfileHistory, UiHandler } from "../ui/mod.ts";
import { FilePageDropper } from "./file_pages.ts";
import { REMOTE_FLAGS, runSupervised, shouldSupervise, startRemoteStore } from "./remote.ts";

const REPO_DIR = new URL("../../", import.meta.url).pathname;
const OBJECT_PATH = Deno.env.get("PROFILER_BPF_OBJECT") ??
  new URL("../../bpf/.output/profiler.bpf.o", import.meta.url).pathname;

/**
 * Rows of unwind tables kept in BPF at most: 8 bytes each, so 64 MiB of kernel memory. libc has
 * about 28k rows and the deno binary a few million; least recently used tables are evicted
 * beyond it.
 */
export const UNWIND_ROW_BUDGET = 8 << 20;

/**
 * How long stopping may take once a signal came: the last window is flushed, the HTTP server,
 * watchers and remote store are closed. Past it the agent exits anyway, so that no hung read,
 * unreachable server or FIFO can keep it (and its BPF programs and port) alive.
 */
export const SHUTDOWN_DEADLINE_MS = 2000;

/**
 * How long the last windows' profiles may take to be written once stopping began (the rest of
 * the deadline is for the steps after the profiler and the process's exit). On a 2-core host
 * under load a window of 40 processes took 0.8-1.9 s to write; idle, 10-30 ms.
 */
const PROFILER_FLUSH_MS = 1000;

/** The part of the shutdown deadline kept for the trace exporter, the last step. */
const TRACE_SHUTDOWN_SHARE_MS = 600;

/**
 * When the agent first drops its idle file pages (src/agent/file_pages.ts): after the first
 * windows (10 s each) and the start-up table builds (done 5-14 s after start on a host of 50
 * binaries), whose code is the bulk of what start-up touches once.
 */
const FILE_PAGES_FIRST_DROP_MS = 30_000;
/** Then every minute: the pages of rarer work (a table worker's start, a reload) go again. */
const FILE_PAGES_DROP_EVERY_MS = 60_000;

/**
 * Flags whose behaviour exists in this version. Any other flag set to a non-default value gets a
 * one-line "has no effect yet" warning at start.
 */
export const IMPLEMENTED_FLAGS: ReadonlySet<string> = new Set([
  "log-level",
  "log-format",
  "http-address",
  "http-allowed-hosts",
  "http-raw-labels",
  "node",
  "memlock-rlimit",
  "profiling-duration",
  "profiling-cpu-sampling-frequency",
  "metadata-external-labels",
  // Labels and relabeling (src/labels).
  "config-path",
  "metadata-container-runtime-socket-path",
  "metadata-disable-caching",
  "local-store-directory",
  "bpf-verbose-logging",
  "analytics-opt-out",
  // DWARF unwinding (src/unwind).
  "dwarf-unwinding-disable",
  "dwarf-unwinding-mixed",
  "bpf-events-buffer-size",
  "object-file-pool-size",
  "object-file-pool-eviction-policy",
  "profiling-perf-event-buffer-processing-interval",
  "profiling-perf-event-buffer-worker-count",
  // Interpreter unwinders (src/interp).
  "python-unwinding-disable",
  "ruby-unwinding-disable",
  // JIT symbolization (src/symbolize/perf_map.ts).
  "symbolizer-jit-disable",
  // Local symbolization and the UI (src/symbolize, src/ui).
  "local-store-symbolize",
  "http-ui-history-size",
  // Traces of the agent's own work (src/tracing).
  "otlp-address",
  "otlp-exporter",
  ...REMOTE_FLAGS,
]);

function bpfStatsEnabled(): boolean {
  try {
    return procfs.readTextFileSync("/proc/sys/kernel/bpf_stats_enabled").trim() === "1";
  } catch {
    return false;
  }
}

const encoder = new TextEncoder();
function out(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text.endsWith("\n") ? text : text + "\n"));
}
function err(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text.endsWith("\n") ? text : text + "\n"));
}

/**
 * Runs the agent until it is told to stop.
 *
 * @param args Command-line arguments (without the program name).
 * @param env The environment (for PARCA_BEARER_TOKEN).
 * @returns The process exit code.
 */
export async function run(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(args, env);
  } catch (e) {
    if (e instanceof FlagError) {
      err(`parca-agent: ${e.message} (see --help)`);
      return 2;
    }
    throw e;
  }
  if (parsed.kind === "help") {
    out(helpText());
    return 0;
  }
  if (parsed.kind === "version") {
    out(versionText(currentVersion(REPO_DIR)));
    return 0;
  }
  const flags = parsed.flags;
  configureLogging({ level: flags.logLevel, format: flags.logFormat });
  const log = getLogger("agent");
  try {
    // With a remote store, this process only supervises a child that does the work, and
    // reports the child's crash to the server.
    if (shouldSupervise(flags)) return await runSupervised(flags, args, REPO_DIR);
    return await runAgent(flags, log, env);
  } catch (e) {
    const error = e as Error;
    // One line for the user; the cause chain only at debug level.
    log.error(error.message);
    if (flags.logLevel === "debug") {
      let cause = error.cause as Error | undefined;
      while (cause) {
        log.debug("caused by", { error: cause.message });
        cause = cause.cause as Error | undefined;
      }
      log.debug("stack", { stack: error.stack ?? "" });
    }
    return 1;
  }
}

/**
 * Sets glibc's allocator up for a long-running agent (see AGENT_MALLOC in src/launcher): caps the
 * arenas when the process did not start with `MALLOC_ARENA_MAX` (the launcher sets it; a compiled
 * binary or `deno run main.ts` does not; arenas that Deno's start-up threads already made stay),
 * and fixes the mmap and trim thresholds unless their variables are set.
 */
function tuneMalloc(
  log: ReturnType<typeof getLogger>,
  env: Record<string, string | undefined>,
): void {
  try {
    const refused = procfs.setMallocOptions({
      arenaMax: env.MALLOC_ARENA_MAX === undefined ? AGENT_MALLOC.arenaMax : undefined,
      mmapThreshold: env.MALLOC_MMAP_THRESHOLD_ === undefined
        ? AGENT_MALLOC.mmapThreshold
        : undefined,
      trimThreshold: env.MALLOC_TRIM_THRESHOLD_ === undefined
        ? AGENT_MALLOC.trimThreshold
        : undefined,
    });
    if (refused.length) log.debug("mallopt refused", { settings: refused.join(",") });
  } catch (e) {
    // Not glibc: nothing to set.
    log.debug("cannot set malloc options", { error: (e as Error).message });
  }
}

async function runAgent(
  flags: AgentFlags,
  log: ReturnType<typeof getLogger>,
  env: Record<string, string | undefined>,
): Promise<number> {
  tuneMalloc(log, env);
  const version = currentVersion(REPO_DIR);
  log.info("starting", {
    version: version.version,
    revision: version.revision,
    deno: version.deno,
    node: flags.node,
  });
  for (const w of noEffectWarnings(flags, IMPLEMENTED_FLAGS)) log.warn(w);
  await runPermissionProbe(log);
  if (flags.profilingCpuSamplingFrequency > 150) {
    log.warn("sampling above 150 Hz per CPU raises the agent's overhead noticeably", {
      frequencyHz: flags.profilingCpuSamplingFrequency,
    });
  }

  // A bad config file is a start-up error (one line naming the file); later bad versions only
  // fail their reload and leave the config in force.
  let config: AgentConfig | undefined;
  if (flags.configPath) {
    config = await loadConfigFile(flags.configPath);
    if (config.empty) log.warn("config file is empty", { path: flags.configPath });
  }
  recordReload(true);

  const pre = checkPrerequisites();
  for (const w of pre.warnings) log.warn(w);
  if (pre.errors.length) {
    for (const e of pre.errors.slice(1)) log.error(e);
    throw new Error(pre.errors[0]);
  }

  const nofile = raiseOpenFilesLimit();
  if (nofile?.raised) {
    log.debug("raised RLIMIT_NOFILE to its hard limit", { soft: Number(nofile.soft) });
  } else if (nofile && nofile.soft < 1024n) {
    log.warn(
      "few file descriptors allowed (ulimit -n): BPF maps, table builds and HTTP connections share them",
      {
        limit: Number(nofile.soft),
      },
    );
  }

  if (flags.memlockRlimit > 0) {
    const res = setMemlockRlimit(flags.memlockRlimit);
    if (res.ok) log.debug("raised RLIMIT_MEMLOCK", { bytes: flags.memlockRlimit });
    else {
      log.warn(
        "cannot raise RLIMIT_MEMLOCK; continuing, since kernels 5.11+ charge BPF memory to the cgroup",
        { bytes: flags.memlockRlimit, error: errnoName(res.errno) },
      );
    }
  }

  const localStore = flags.localStoreDirectory
    ? await LocalStore.open(flags.localStoreDirectory)
    : undefined;

  let kernelSymbols: KernelSymbols | undefined;
  try {
    kernelSymbols = KernelSymbols.load();
    if (kernelSymbols.restricted) {
      log.warn(
        "kernel symbol addresses are hidden (kernel.kptr_restrict); kernel frames stay unnamed",
      );
    }
  } catch (e) {
    metrics.errors.inc({ kind: "kallsyms" });
    log.warn("cannot read /proc/kallsyms; kernel frames stay unnamed", {
      error: (e as Error).message,
    });
  }
  const vdsoSymbols = VdsoSymbols.load();
  if (vdsoSymbols.error) {
    log.debug("vDSO frames stay unnamed", { reason: vdsoSymbols.error.message });
  }
  const processes = new ProcessReader({
    log: { debug: (msg: string, props?: Record<string, unknown>) => log.debug(msg, props ?? {}) },
  });
  const records = new ProcessRecords({ reader: processes });

  const tracing = await startTracing({
    address: flags.otlpAddress,
    exporter: flags.otlpExporter,
    node: flags.node,
    version: version.version,
    revision: version.revision,
    log,
  });

  // Names native frames on request (/query?symbolize=1, the UI, --local-store-symbolize); its
  // worker starts on first use.
  const symbolizer = new LocalSymbolizer({ debugDirectories: flags.debuginfoDirectories });
  const bus = new ProfileBus();
  const sinks: ProfileSink[] = [{
    write: (p) => {
      symbolizer.note(p.pid, p.mappings);
      bus.publish({
        labels: p.labels,
        pprof: p.pprof,
        profile: p.profile,
        symbolized: () => symbolizer.symbolize(p),
      });
      metrics.profilesWritten.inc({ store: "query" });
    },
    windowEmitting: () => bus.windowEmitting(),
    windowEmitted: () => bus.windowEmitted(),
  }];
  // Recent profiles for the flame graph UI, bounded in bytes; 0 turns the UI off.
  const history = flags.httpUiHistorySize > 0
    ? new ProfileHistory(flags.httpUiHistorySize)
    : undefined;
  if (history) {
    sinks.push({
      write: (p) =>
        history.add({
          labels: p.labels,
          pid: p.pid,
          timeNanos: p.timeNanos,
          pprof: p.pprof,
          mappings: p.mappings ?? [],
          samples: p.samples,
        }),
    });
  }
  if (localStore) {
    sinks.push({
      write: async (p) => {
        const store = async (pprof: Uint8Array) => {
          const t0 = performance.now();
          await localStore.write({
            pid: p.pid,
            // A process split into several series (by a rule keeping a thread label) needs one
            // file per series.
            name: p.series ? `${PROFILER_NAME}.${p.series}` : PROFILER_NAME,
            timeNanos: p.timeNanos,
            pprof,
          });
          recordSpan("profiling.write", t0, { "profile.pid": p.pid, store: "local" }, {
            inWindow: !flags.localStoreSymbolize,
          });
        };
        // Symbolized profiles are written in the background: the window loop never waits.
        if (flags.localStoreSymbolize) symbolizer.enqueue(p, store);
        else await store(p.pprof);
      },
    });
  }

  const remote = flags.remoteStoreAddress ? startRemoteStore(flags) : undefined;
  if (remote) sinks.push(...remote.sinks);

  const cpus = onlineCpus();
  const files = new ObjectFilePool({
    size: flags.objectFilePoolSize,
    policy: flags.objectFilePoolEvictionPolicy,
  });
  const interpreters = new InterpreterTracker({
    python: !flags.pythonUnwindingDisable,
    ruby: !flags.rubyUnwindingDisable,
    files: { open: (pid, m) => files.get(pid, m) },
  });
  // Interpreter facts follow the process records: an image captured, or refreshed after its
  // mappings changed, is examined; an ended one (exit, exec) loses its BPF entry and memory but
  // keeps its decoded objects until its record is freed (after its last window).
  if (interpreters.enabled) {
    records.onChange((r, change) => {
      if (change === "captured" || change === "refreshed") {
        if (interpreters.mayWalk(r.mappings)) interpreters.examine(r.pid, r.instance);
        else interpreters.forget(r.pid, r.instance); // exec'd into something else
      } else if (change === "ended") interpreters.forget(r.pid, r.instance);
      else if (change === "freed") interpreters.released(r.pid, r.instance);
    });
  }
  const unwinder = flags.dwarfUnwindingDisable ? undefined : new Unwinder({
    builders: new BuilderPool(flags.profilingPerfEventBufferWorkerCount),
    files,
    maxRows: UNWIND_ROW_BUDGET,
    maxFileBytes: 1 << 30,
  });
  const labels = await startLabels({
    node: flags.node,
    externalLabels: flags.metadataExternalLabels,
    profileName: PROFILER_NAME,
    agentRevision: version.revision,
    relabelConfigs: config?.relabelConfigs ?? [],
    disableCaching: flags.metadataDisableCaching,
    containerRuntimeSocketPath: flags.metadataContainerRuntimeSocketPath,
    secrets: ownSecrets(flags),
  });
  const configWatcher = config
    ? ConfigWatcher.start({
      path: flags.configPath,
      initial: config,
      onReload: (c) => labels.manager.setRelabelConfigs(c.relabelConfigs),
    })
    : undefined;
  const profiler = new CpuProfiler({
    objectPath: OBJECT_PATH,
    frequencyHz: flags.profilingCpuSamplingFrequency,
    durationMs: flags.profilingDurationMs,
    cpus,
    labels: labels.manager,
    verbose: flags.bpfVerboseLogging,
    dwarfEnabled: !flags.dwarfUnwindingDisable,
    mixedMode: flags.dwarfUnwindingMixed,
    eventsBufferBytes: flags.bpfEventsBufferSize * 4096,
    unwinder,
    records,
    eventPollIntervalMs: flags.profilingPerfEventBufferProcessingIntervalMs,
    interpreters: interpreters.enabled ? interpreters : undefined,
    // Who enabled the kernel's BPF run-time statistics wants to measure: time the interpreter
    // walk too (two clock reads per activation; off otherwise).
    interpTiming: interpreters.enabled && bpfStatsEnabled(),
    jit: flags.symbolizerJitDisable ? undefined : new JitSymbols(),
    kernelSymbols,
    vdsoSymbols,
    sinks,
  });

  const shownFlags = describeFlags(flags).map(([name, value, changed]): [string, string] => [
    changed ? `${name} (set)` : name,
    value,
  ]);
  const snapshot = (): StatusSnapshot => ({
    profilerName: PROFILER_NAME,
    windowStartedAt: profiler.windowStartedAt,
    lastWindowEndedAt: profiler.lastWindowEndedAt,
    lastError: profiler.lastError,
    samplingFrequencyHz: flags.profilingCpuSamplingFrequency,
    profilingDurationMs: flags.profilingDurationMs,
    processes: profiler.processes(),
    config: configWatcher?.current.text ?? "",
    flags: shownFlags,
    localStore: flags.localStoreDirectory || undefined,
    ui: history !== undefined,
  });

  const stopSignal = new AbortController();
  const server = await startHttpServer({
    address: flags.httpAddress,
    status: { ready: () => profiler.ready, snapshot },
    bus,
    profilingDurationMs: flags.profilingDurationMs,
    renderProfileText: (p: unknown) => profileToText(p as Profile),
    signal: stopSignal.signal,
    rawLabels: flags.httpRawLabels,
    allowedHosts: flags.httpAllowedHosts,
    routes: history &&
      new UiHandler({
        history,
        profilingDurationMs: flags.profilingDurationMs,
        symbolize: (entry, profile) => symbolizer.symbolizeCopy({ ...entry, profile }),
      }).routes(),
  });

  try {
    profiler.start();
  } catch (e) {
    await server.shutdown();
    await configWatcher?.close();
    await labels.close();
    await remote?.stop();
    await tracing?.shutdown();
    throw e;
  }

  // The start-up's file pages (most of the deno binary's resident code) leave the agent's RSS once
  // the first windows and the start-up builds are over; what is still used maps back in.
  const pageDropper = new FilePageDropper({
    firstMs: FILE_PAGES_FIRST_DROP_MS,
    everyMs: FILE_PAGES_DROP_EVERY_MS,
    onDrop: (r) =>
      log.debug("dropped idle file pages", {
        mappings: r.mappings,
        bytes: r.bytes,
        failed: r.failed,
      }),
    onError: (e) => log.debug("cannot drop idle file pages", { error: e.message }),
  });
  pageDropper.start();

  // Run until SIGINT or SIGTERM (or the supervisor is gone), then flush the current window and
  // detach, within the shutdown deadline.
  const stopped = Promise.withResolvers<string>();
  const onSignal = (sig: Deno.Signal) => () => stopped.resolve(sig);
  const handlers: Array<[Deno.Signal, () => void]> = [
    ["SIGINT", onSignal("SIGINT")],
    ["SIGTERM", onSignal("SIGTERM")],
  ];
  for (const [sig, h] of handlers) Deno.addSignalListener(sig, h);
  const supervisor = watchSupervisor(env, (why) => stopped.resolve(why));
  const reason = await stopped.promise;
  pageDropper.stop();
  supervisor?.close();
  log.info("stopping", { reason });
  // A second signal while stopping means "now".
  const again = Promise.withResolvers<string>();
  for (const [s] of handlers) Deno.addSignalListener(s, () => again.resolve(s));
  const finished = await stopWithin(SHUTDOWN_DEADLINE_MS, again.promise, log, [
    ["the profiler", () => profiler.stop(PROFILER_FLUSH_MS)],
    // The local store's last symbolized profiles, then the symbolizer's worker.
    ["the symbolizer", async () => {
      await symbolizer.drain();
      symbolizer.close();
    }],
    ["the HTTP server", () => {
      stopSignal.abort();
      return server.shutdown();
    }],
    ["the config watcher", () => configWatcher?.close()],
    ["the label sources", () => labels.close()],
    // Whatever time is left, but for the trace exporter's share: a slow server costs the last
    // window (counted as dropped), not the deadline.
    ["the remote store", (leftMs) => remote?.stop(leftMs - TRACE_SHUTDOWN_SHARE_MS)],
    // Last, so that the stop's own spans are flushed; bounded well inside the deadline.
    ["the trace exporter", () => tracing?.shutdown()],
  ]);
  for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  if (!finished) return 1;
  log.info("stopped");
  return 0;
}

/**
 * The agent's secrets, to redact from every label: the bearer token from the flag, the
 * environment or the token file (read again here; the remote store has already failed start-up
 * when it cannot be read).
 */
function ownSecrets(flags: AgentFlags): string[] {
  try {
    return [readBearerToken(flags.remoteStoreBearerToken, flags.remoteStoreBearerTokenFile)];
  } catch {
    return [flags.remoteStoreBearerToken];
  }
}

/**
 * Runs the shutdown steps in order, giving up when the deadline passes or `now` settles.
 *
 * @returns True when every step finished in time.
 */
async function stopWithin(
  deadlineMs: number,
  now: Promise<string>,
  log: ReturnType<typeof getLogger>,
  steps: Array<[string, (leftMs: number) => Promise<void> | void]>,
): Promise<boolean> {
  let current = "";
  const end = Date.now() + deadlineMs;
  const all = (async () => {
    for (const [name, step] of steps) {
      current = name;
      const t0 = performance.now();
      try {
        await step(end - Date.now());
      } catch (e) {
        log.warn("error while stopping", { step: name, error: (e as Error).message });
      }
      log.debug("shutdown step done", { step: name, ms: Math.round(performance.now() - t0) });
    }
    return true;
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<string>((r) => timer = setTimeout(() => r("deadline"), deadlineMs));
  const outcome = await Promise.race([all, late, now]);
  clearTimeout(timer);
  if (outcome === true) return true;
  log.warn(
    outcome === "deadline"
      ? `shutdown did not finish within ${
        deadlineMs / 1000
      } s; exiting without waiting for ${current}`
      : `second ${outcome} while stopping; exiting without waiting for ${current}`,
  );
  return false;
}
