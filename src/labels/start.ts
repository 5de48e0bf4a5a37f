// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { getLogger } from "../log/mod.ts";
import { CONTAINERD_SOCKETS, ContainerdClient, findContainerdSocket } from "./containerd.ts";
import { ContainerMetadata } from "./containers.ts";
import { DEFAULT_DOCKER_SOCKET, DockerClient } from "./docker.ts";
import { findKubeConnection, type KubeEnvironment } from "./kube_config.ts";
import { KubernetesStore, KubernetesWatcher } from "./kubernetes.ts";
import { LabelManager } from "./manager.ts";
import { labelMetrics } from "./metrics.ts";
import type { RelabelRule } from "./relabel.ts";
import { waitAtMost } from "../async/mod.ts";

const log = getLogger("labels");

/** Options of {@link startLabels}: the agent's flags that concern labels. */
export interface StartLabelsOptions {
  /** `--node`. */
  node: string;
  /** `--metadata-external-labels`. */
  externalLabels: ReadonlyArray<readonly [string, string]>;
  /** `__name__`. */
  profileName: string;
  /** `__meta_agent_revision`. */
  agentRevision: string;
  /** The rules of the config file. */
  relabelConfigs: readonly RelabelRule[];
  /** `--metadata-disable-caching`. */
  disableCaching: boolean;
  /** The agent's own secrets, redacted from every label (see `LabelManagerOptions.secrets`). */
  secrets?: readonly string[];
  /**
   * `--metadata-container-runtime-socket-path`: the Docker Engine API socket (Docker's or
   * Podman's), or containerd's when the file name is `containerd.sock`. Empty for the defaults
   * (`/var/run/docker.sock`, and the first of the usual containerd sockets that exists).
   */
  containerRuntimeSocketPath: string;
  /**
   * How long start-up waits for the first Kubernetes list, so that the first profiles carry pod
   * labels. It never fails: after that the watch carries on in the background.
   *
   * @default {5000}
   */
  kubernetesSyncTimeoutMs?: number;
  /** Environment and files for finding the API server (tests). */
  kubeEnvironment?: KubeEnvironment;
  /** Where procfs is mounted (tests). @default {"/proc"} */
  procRoot?: string;
}

/** The running label machinery. */
export interface LabelsRuntime {
  /** The manager the profiler asks. */
  manager: LabelManager;
  /** Where the Kubernetes API server was found, if it was. */
  kubernetesSource?: string;
  /** Stops the Kubernetes watch; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Builds the {@link LabelManager} with its metadata sources: the container runtime clients and,
 * when the agent runs in a cluster (service account) or `$KUBECONFIG` is set, a watch of this
 * node's pods and node object. None of them can make start-up fail: a source that is missing or
 * broken is logged once and its labels stay absent.
 *
 * @example
 * ```ts ignore
 * import { startLabels } from "./mod.ts";
 * const labels = await startLabels({ node: "n1", externalLabels: [], profileName: "parca_agent_cpu",
 *   agentRevision: "abc", relabelConfigs: [], disableCaching: false, containerRuntimeSocketPath: "" });
 * await labels.close();
 * ```
 *
 * @param opts The label flags.
 * @returns The manager and its sources.
 */
export async function startLabels(opts: StartLabelsOptions): Promise<LabelsRuntime> {
  const socket = opts.containerRuntimeSocketPath;
  const isContainerd = socket.endsWith("containerd.sock");
  const docker = new DockerClient(socket && !isContainerd ? socket : DEFAULT_DOCKER_SOCKET);
  // Without a socket found, the usual path is still used, so that a containerd container met
  // while containerd is down gets the one warning about it.
  const containerdSocket = isContainerd ? socket : findContainerdSocket() ?? CONTAINERD_SOCKETS[0];
  const containers = new ContainerMetadata({
    docker,
    containerd: new ContainerdClient(containerdSocket),
    cache: !opts.disableCaching,
  });

  let store: KubernetesStore | undefined;
  let watcher: KubernetesWatcher | undefined;
  let source: string | undefined;
  try {
    const conn = findKubeConnection(opts.kubeEnvironment);
    if (conn) {
      store = new KubernetesStore();
      watcher = new KubernetesWatcher({ connection: conn, node: opts.node, store });
      source = conn.source;
      log.info("watching Kubernetes pods of this node", { node: opts.node, source: conn.source });
      await waitAtMost(watcher.synced, opts.kubernetesSyncTimeoutMs ?? 5000);
    } else {
      log.debug("not in a Kubernetes cluster and no KUBECONFIG; no Kubernetes labels");
    }
  } catch (e) {
    labelMetrics.metadataErrors.inc({ provider: "kubernetes" });
    log.warn("Kubernetes metadata unavailable; __meta_kubernetes_* labels are absent", {
      error: (e as Error).message,
    });
  }

  const manager = new LabelManager({
    node: opts.node,
    externalLabels: opts.externalLabels,
    profileName: opts.profileName,
    agentRevision: opts.agentRevision,
    relabelConfigs: opts.relabelConfigs,
    disableCaching: opts.disableCaching,
    secrets: opts.secrets,
    containers,
    kubernetes: store,
    procRoot: opts.procRoot,
  });
  let closed = false;
  return {
    manager,
    kubernetesSource: source,
    async close() {
      if (closed) return;
      closed = true;
      await watcher?.close();
      docker.close();
    },
  };
}
