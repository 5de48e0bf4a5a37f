// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { SecretRedactor } from "./_redact.ts";
import { LruCache, type ProcessInfo } from "../process/mod.ts";
import { type ContainerRef, findContainer, mainCgroup, parseCgroup } from "./cgroup.ts";
import type { ContainerMetadata } from "./containers.ts";
import { ElfExecutableInspector, type ExecutableInspector } from "./executable.ts";
import type { KubernetesStore } from "./kubernetes.ts";
import { labelMetrics } from "./metrics.ts";
import { ExecutableLabels, processLabels, readCgroup } from "./process_labels.ts";
import { finalizeLabels, relabel, type RelabelRule } from "./relabel.ts";
import { readSystemInfo, type SystemInfo, systemLabels } from "./system.ts";

/** The labels of one series, after relabeling. */
export interface SeriesLabels {
  /** `__name__` first, then the other labels by name; no `__`-prefixed label but `__name__`. */
  labels: Record<string, string>;
  /** A string equal for equal label sets, to group samples by. */
  key: string;
}

/** The labels of one process, ready to be asked per thread. */
export interface ProcessLabeler {
  /** The process-level labels before relabeling (thread labels excluded), for the status page. */
  readonly raw: Record<string, string>;
  /**
   * The series of one thread of the process.
   *
   * @param tid The thread.
   * @param threadComm Its name.
   * @returns Its labels after relabeling, or undefined when a rule drops it.
   */
  thread(tid: number, threadComm: string): SeriesLabels | undefined;
}

/** Options of {@link LabelManager}. */
export interface LabelManagerOptions {
  /** `--node`: the `node` label. */
  node: string;
  /** `--metadata-external-labels`. */
  externalLabels?: ReadonlyArray<readonly [string, string]>;
  /** The profile name, `__name__` (visible to rules, and always the final value). */
  profileName: string;
  /** `__meta_agent_revision`. */
  agentRevision: string;
  /** The rules in force. @default {[]} */
  relabelConfigs?: readonly RelabelRule[];
  /**
   * `--metadata-disable-caching`: recompute the labels of every process every time (process,
   * cgroup, container, Kubernetes, relabeling); executable facts stay cached per file identity.
   */
  disableCaching?: boolean;
  /** Container runtime labels; none when absent. */
  containers?: ContainerMetadata;
  /** Kubernetes pods and node; none when absent. */
  kubernetes?: KubernetesStore;
  /** Reads executables. @default {new ElfExecutableInspector()} */
  executableInspector?: ExecutableInspector;
  /** Host facts. @default {readSystemInfo()} */
  system?: SystemInfo;
  /** Where procfs is mounted. @default {"/proc"} */
  procRoot?: string;
  /**
   * How long the metadata of a process (command line, cgroup, executable, container) is kept
   * before it is read again, when nothing else says it changed.
   *
   * @default {60000}
   */
  processTtlMs?: number;
  /**
   * The agent's own secrets (the bearer token): replaced by `<redacted>` in every label value,
   * before relabeling, so neither the status page, /query, the stores nor a rule ever see them.
   * Bearer-token flags in any command line are redacted whatever their value.
   */
  secrets?: readonly string[];
}

const THREAD_COMM = "__meta_thread_comm";
const THREAD_ID = "__meta_thread_id";

/**
 * Whether any rule's outcome can depend on the thread labels. When none can, a process is
 * relabeled once instead of once per thread, and all its threads share one series. A rule
 * depends on them when it reads them: as a source label, as the label compared by
 * keepequal/dropequal, or by copying them with labelmap.
 *
 * @param rules The rules.
 * @returns True when thread labels matter.
 */
export function rulesReadThreadLabels(rules: readonly RelabelRule[]): boolean {
  const isThread = (n: string) => n === THREAD_COMM || n === THREAD_ID;
  return rules.some((r) =>
    r.sourceLabels.some(isThread) ||
    ((r.action === "keepequal" || r.action === "dropequal") && isThread(r.targetLabel)) ||
    (r.action === "labelmap" && (r.regex.test(THREAD_COMM) || r.regex.test(THREAD_ID)))
  );
}

interface ProcessEntry {
  identity: string;
  /** Process, executable and container-runtime labels (everything but Kubernetes). */
  own: Record<string, string>;
  container?: ContainerRef;
  kubeVersion: number;
  rulesVersion: number;
  base: Map<string, string>;
  raw: Record<string, string>;
  /** Results per thread key ("" when rules ignore threads); null = dropped. */
  results: Map<string, SeriesLabels | null>;
}

/**
 * Computes the labels of every series: the always-present labels (`__name__`, `node`, `comm`,
 * `pid`, external labels), the `__meta_*` labels of the process, system, agent, thread,
 * container and Kubernetes providers, then the relabel rules, then the removal of every
 * `__`-prefixed label (`__name__` stays, always the profile name).
 *
 * Per process, metadata is cached until the process changes (pid reuse, exec), Kubernetes
 * reports a change, the rules change, or `processTtlMs` passes; `disableCaching` turns these
 * caches off (the per-file cache of executable facts stays: it is keyed by the file's identity and
 * cannot go stale). Rules run per thread only when they read a thread label.
 *
 * @example
 * ```ts
 * import { compileRelabelConfig, LabelManager } from "./mod.ts";
 * const labels = new LabelManager({
 *   node: "node-a",
 *   profileName: "parca_agent_cpu",
 *   agentRevision: "abc",
 *   relabelConfigs: [compileRelabelConfig({
 *     source_labels: ["__meta_process_executable_name"],
 *     target_label: "exe",
 *   })],
 * });
 * const series = await labels.labels(Deno.pid, undefined, Deno.pid, "main");
 * console.assert(series?.labels.node === "node-a");
 * ```
 */
export class LabelManager {
  readonly #opts: LabelManagerOptions;
  readonly #static: Record<string, string>;
  readonly #executables: ExecutableLabels;
  readonly #cache: LruCache<number, ProcessEntry> | undefined;
  #rules: readonly RelabelRule[];
  #rulesVersion = 0;
  readonly #redactor: SecretRedactor;
  #threadSensitive: boolean;

  /** @param opts Where labels come from, and the rules. */
  constructor(opts: LabelManagerOptions) {
    this.#opts = opts;
    this.#redactor = new SecretRedactor(opts.secrets);
    const system = opts.system ?? readSystemInfo();
    this.#static = systemLabels(system, opts.agentRevision);
    const cache = !opts.disableCaching;
    // Executable facts stay cached even without caching: they are keyed by the file's identity
    // (device, inode, size, mtime), so a changed file is a new entry and the cache cannot go
    // stale, while reading an ELF file again for every process every window costs about 1 ms.
    this.#executables = new ExecutableLabels(
      opts.executableInspector ?? new ElfExecutableInspector(),
      true,
      opts.procRoot,
    );
    this.#cache = cache ? new LruCache(8192, opts.processTtlMs ?? 60_000) : undefined;
    this.#rules = opts.relabelConfigs ?? [];
    this.#threadSensitive = rulesReadThreadLabels(this.#rules);
  }

  /** The rules in force. */
  get relabelConfigs(): readonly RelabelRule[] {
    return this.#rules;
  }

  /**
   * Replaces the rules (after a config reload). Cached results are recomputed on next use.
   *
   * @param rules The new rules.
   */
  setRelabelConfigs(rules: readonly RelabelRule[]): void {
    this.#rules = rules;
    this.#rulesVersion++;
    this.#threadSensitive = rulesReadThreadLabels(rules);
  }

  /**
   * Prepares the labels of one process.
   *
   * @param pid The process.
   * @param info What the process reader found, or undefined when the process is gone.
   * @param comm The process name BPF saw (used when `info` is missing).
   * @returns A labeler to ask per thread.
   */
  async process(pid: number, info: ProcessInfo | undefined, comm = ""): Promise<ProcessLabeler> {
    const name = info?.comm || comm;
    const identity = `${info?.startTimeTicks ?? ""}\0${info?.exe ?? ""}\0${name}`;
    const kubeVersion = this.#opts.kubernetes?.version ?? 0;
    let entry = this.#cache?.get(pid);
    if (entry && entry.identity !== identity) entry = undefined;
    if (this.#cache) {
      labelMetrics.cacheRequests.inc({ cache: "process", result: entry ? "hit" : "miss" });
    }
    if (!entry) {
      // A process record carries what was read at capture, so a process that exited or exec'd
      // since is labelled as it was when its samples were taken.
      const cgroups = info?.cgroup !== undefined
        ? parseCgroup(info.cgroup)
        : readCgroup(pid, this.#opts.procRoot);
      const container = findContainer(cgroups);
      const own: Record<string, string> = {
        ...processLabels(pid, info, mainCgroup(cgroups)),
        ...this.#executables.labels(pid, info?.exe ?? "", info?.executableFile?.executable),
        ...(container && this.#opts.containers
          ? await this.#opts.containers.labels(container)
          : {}),
      };
      entry = this.#entry(identity, own, container, pid, name);
      this.#cache?.set(pid, entry);
    } else if (entry.kubeVersion !== kubeVersion || entry.rulesVersion !== this.#rulesVersion) {
      const fresh = this.#entry(identity, entry.own, entry.container, pid, name);
      Object.assign(entry, fresh);
    }
    const e = entry;
    return {
      raw: e.raw,
      thread: (tid, threadComm) => this.#thread(e, tid, threadComm),
    };
  }

  /**
   * The labels of one thread's series; a shortcut for `process(...)` then `thread(...)`.
   *
   * @param pid The process.
   * @param info What the process reader found.
   * @param tid The thread.
   * @param threadComm The thread's name.
   * @returns The labels after relabeling, or undefined when a rule drops the series.
   */
  async labels(
    pid: number,
    info: ProcessInfo | undefined,
    tid: number,
    threadComm: string,
  ): Promise<SeriesLabels | undefined> {
    return (await this.process(pid, info, info?.comm)).thread(tid, threadComm);
  }

  #entry(
    identity: string,
    own: Record<string, string>,
    container: ContainerRef | undefined,
    pid: number,
    comm: string,
  ): ProcessEntry {
    const kube = this.#opts.kubernetes;
    const base = new Map<string, string>([
      ["__name__", this.#opts.profileName],
      ["node", this.#opts.node],
      ["comm", comm],
      ["pid", String(pid)],
    ]);
    const add = (labels: Record<string, string>) => {
      for (const k in labels) base.set(k, labels[k]);
    };
    add(this.#static);
    add(own);
    if (kube && container) add(kube.lookup(container.id, container.podUid) ?? {});
    for (const [k, v] of this.#opts.externalLabels ?? []) base.set(k, v);
    for (const [k, v] of base) base.set(k, this.#redactor.redact(v));
    const raw: Record<string, string> = {};
    for (const k of [...base.keys()].sort()) if (base.get(k) !== "") raw[k] = base.get(k)!;
    return {
      identity,
      own,
      container,
      kubeVersion: kube?.version ?? 0,
      rulesVersion: this.#rulesVersion,
      base,
      raw,
      results: new Map(),
    };
  }

  #thread(e: ProcessEntry, tid: number, threadComm: string): SeriesLabels | undefined {
    const sensitive = this.#threadSensitive;
    const key = sensitive ? `${tid}\0${threadComm}` : "";
    const cached = e.results.get(key);
    if (cached !== undefined) return cached ?? undefined;
    let input: Map<string, string> = e.base;
    if (sensitive) {
      input = new Map(e.base);
      input.set(THREAD_ID, String(tid));
      input.set(THREAD_COMM, this.#redactor.redact(threadComm));
    }
    const out = relabel(input, this.#rules);
    let result: SeriesLabels | null = null;
    if (out) {
      const labels = finalizeLabels(out, this.#opts.profileName);
      result = { labels, key: JSON.stringify(labels) };
    }
    // Without caching every call recomputes; with it, a process's threads are computed once
    // per process entry (and so once per config reload or metadata change).
    if (this.#cache) e.results.set(key, result);
    return result ?? undefined;
  }
}
