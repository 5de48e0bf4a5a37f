// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Labels that say whose CPU a profile is: the always-present labels (`__name__`, `node`, `comm`,
 * `pid`, `--metadata-external-labels`), the `__meta_*` labels of the process, executable,
 * system, agent, thread, container (Docker, containerd, CRI-O, Podman, LXC) and Kubernetes
 * providers, and Prometheus relabeling (`--config-path`) over all of them.
 *
 * - {@link LabelManager} gives the profiler the final labels of each process and thread (or
 *   undefined when a rule drops the series); {@link startLabels} builds it with its sources.
 * - {@link parseConfig} / {@link loadConfigFile} read the config file and {@link ConfigWatcher}
 *   reloads it when it changes; {@link compileRelabelConfig} and {@link relabel} are the
 *   Prometheus relabel engine (every action, RE2 regexes, Go template expansion, hashmod).
 * - {@link findContainer} recognises containers from /proc/PID/cgroup; {@link DockerClient},
 *   {@link ContainerdClient} and {@link KubernetesWatcher} ask the runtimes and the API server.
 *
 * Like Prometheus, every `__`-prefixed label is dropped after relabeling, so a `__meta_*` label
 * reaches a profile only when a rule copies it; `__name__` stays, always the profile name.
 *
 * @example Copy the executable name into a label, keep only two programs
 * ```ts
 * import { LabelManager, parseConfig } from "./mod.ts";
 *
 * const config = parseConfig(`
 * relabel_configs:
 *   - source_labels: [__meta_process_executable_name]
 *     target_label: exe
 *   - source_labels: [comm]
 *     regex: deno|node
 *     action: keep
 * `);
 * const labels = new LabelManager({
 *   node: "node-a",
 *   profileName: "parca_agent_cpu",
 *   agentRevision: "abc",
 *   relabelConfigs: config.relabelConfigs,
 * });
 * const series = await labels.labels(Deno.pid, undefined, Deno.pid, "main");
 * // The agent's own process is "deno" unless it was compiled: either kept or dropped.
 * console.assert(series === undefined || series.labels.node === "node-a");
 * ```
 *
 * @module
 */

export {
  compileRelabelConfig,
  finalizeLabels,
  isValidLabelName,
  relabel,
  RELABEL_ACTIONS,
  type RelabelAction,
  type RelabelConfigInput,
  relabelLabels,
  type RelabelRule,
  sanitizeLabelName,
} from "./relabel.ts";
export {
  compileAnchored,
  MatchBudget,
  MatchBudgetExceeded,
  type Re2,
  Re2SyntaxError,
} from "./_re2.ts";
export { type AgentConfig, ConfigError, loadConfigFile, parseConfig } from "./config.ts";
export { ConfigWatcher, type ConfigWatcherOptions, recordReload } from "./config_watcher.ts";
export {
  type CgroupEntry,
  type ContainerRef,
  type ContainerRuntime,
  findContainer,
  mainCgroup,
  parseCgroup,
} from "./cgroup.ts";
export {
  ElfExecutableInspector,
  type ExecutableFacts,
  executableFileId,
  type ExecutableInspector,
} from "./executable.ts";
export { DEFAULT_DOCKER_SOCKET, DockerClient, type DockerContainer } from "./docker.ts";
export {
  CONTAINERD_SOCKETS,
  ContainerdClient,
  type ContainerdContainer,
  containerdLabels,
  findContainerdSocket,
} from "./containerd.ts";
export { ContainerMetadata, type ContainerMetadataOptions } from "./containers.ts";
export {
  findKubeConnection,
  KubeConfigError,
  type KubeConnection,
  type KubeEnvironment,
  parseKubeconfig,
} from "./kube_config.ts";
export {
  KubernetesStore,
  KubernetesWatcher,
  type KubernetesWatcherOptions,
  type Node,
  nodeLabels,
  type Pod,
  podLabels,
} from "./kubernetes.ts";
export { ExecutableLabels, executableName, processLabels, readCgroup } from "./process_labels.ts";
export { readSystemInfo, type SystemInfo, systemLabels } from "./system.ts";
export {
  LabelManager,
  type LabelManagerOptions,
  type ProcessLabeler,
  rulesReadThreadLabels,
  type SeriesLabels,
} from "./manager.ts";
export { type LabelsRuntime, startLabels, type StartLabelsOptions } from "./start.ts";
export { labelMetrics } from "./metrics.ts";
