// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { getLogger } from "../log/mod.ts";
import { SourceHealth } from "./_health.ts";
import type { KubeConnection } from "./kube_config.ts";
import { labelMetrics } from "./metrics.ts";
import { sanitizeLabelName } from "./relabel.ts";

const log = getLogger("kubernetes");

/** The parts of a Kubernetes object's metadata that labels come from. */
interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{ kind?: string; name?: string; controller?: boolean }>;
}

interface ContainerSpec {
  name: string;
  image?: string;
}

interface ContainerStatus {
  name: string;
  containerID?: string;
}

/** A core/v1 Pod, as much of it as the labels need. */
export interface Pod {
  metadata: ObjectMeta;
  spec?: {
    nodeName?: string;
    containers?: ContainerSpec[];
    initContainers?: ContainerSpec[];
    ephemeralContainers?: ContainerSpec[];
  };
  status?: {
    phase?: string;
    podIP?: string;
    hostIP?: string;
    conditions?: Array<{ type: string; status: string }>;
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
    ephemeralContainerStatuses?: ContainerStatus[];
  };
}

/** A core/v1 Node, as much of it as the labels need. */
export interface Node {
  metadata: ObjectMeta;
}

interface ListResponse<T> {
  metadata?: { resourceVersion?: string };
  items?: T[];
}

interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T & { code?: number; message?: string };
}

const PREFIX = "__meta_kubernetes_";

function metaLabels(out: Record<string, string>, role: "pod" | "node", meta: ObjectMeta): void {
  out[`${PREFIX}${role}_name`] = meta.name ?? "";
  for (const [k, v] of Object.entries(meta.labels ?? {})) {
    const n = sanitizeLabelName(k);
    out[`${PREFIX}${role}_label_${n}`] = v;
    out[`${PREFIX}${role}_labelpresent_${n}`] = "true";
  }
  for (const [k, v] of Object.entries(meta.annotations ?? {})) {
    const n = sanitizeLabelName(k);
    out[`${PREFIX}${role}_annotation_${n}`] = v;
    out[`${PREFIX}${role}_annotationpresent_${n}`] = "true";
  }
}

/**
 * The pod-level `__meta_kubernetes_*` labels, with Prometheus's names and values (pod role of
 * kubernetes_sd): names sanitised, `_labelpresent_`/`_annotationpresent_` set to "true",
 * `pod_ready` the lower-cased Ready condition ("unknown" when absent), the controller from the
 * owner reference marked `controller: true`.
 *
 * @param pod The pod.
 * @returns The labels.
 */
export function podLabels(pod: Pod): Record<string, string> {
  const out: Record<string, string> = {
    [`${PREFIX}namespace`]: pod.metadata.namespace ?? "",
    [`${PREFIX}pod_ip`]: pod.status?.podIP ?? "",
    [`${PREFIX}pod_ready`]:
      (pod.status?.conditions?.find((c) => c.type === "Ready")?.status ?? "Unknown").toLowerCase(),
    [`${PREFIX}pod_phase`]: pod.status?.phase ?? "",
    [`${PREFIX}pod_node_name`]: pod.spec?.nodeName ?? "",
    [`${PREFIX}pod_host_ip`]: pod.status?.hostIP ?? "",
    [`${PREFIX}pod_uid`]: pod.metadata.uid ?? "",
  };
  const controller = pod.metadata.ownerReferences?.find((r) => r.controller === true);
  if (controller?.kind) out[`${PREFIX}pod_controller_kind`] = controller.kind;
  if (controller?.name) out[`${PREFIX}pod_controller_name`] = controller.name;
  metaLabels(out, "pod", pod.metadata);
  return out;
}

/**
 * The node-level `__meta_kubernetes_node_*` labels.
 *
 * @param node The node.
 * @returns The labels.
 */
export function nodeLabels(node: Node): Record<string, string> {
  const out: Record<string, string> = {};
  metaLabels(out, "node", node.metadata);
  return out;
}

/** One container of a pod, indexed by container ID. */
interface ContainerEntry {
  podUid: string;
  labels: Record<string, string>;
}

/** The container ID without its `<runtime>://` scheme. */
function bareId(containerID: string | undefined): string | undefined {
  if (!containerID) return undefined;
  const i = containerID.indexOf("://");
  return i < 0 ? containerID : containerID.slice(i + 3);
}

/**
 * The pods of this node and the node itself, kept current from the API server, indexed by
 * container ID (and pod UID) for matching processes.
 */
export class KubernetesStore {
  readonly #pods = new Map<string, { pod: Pod; labels: Record<string, string> }>();
  readonly #containers = new Map<string, ContainerEntry>();
  #node: Record<string, string> = {};
  /** Incremented on every change, so that caches of labels know when to recompute. */
  version = 0;

  /** Number of pods known. */
  get podCount(): number {
    return this.#pods.size;
  }

  /**
   * Replaces all pods (after a list).
   *
   * @param pods The listed pods.
   */
  resetPods(pods: Pod[]): void {
    this.#pods.clear();
    this.#containers.clear();
    for (const p of pods) this.upsertPod(p);
    this.version++;
  }

  /**
   * Adds or updates a pod.
   *
   * @param pod The pod.
   */
  upsertPod(pod: Pod): void {
    const uid = pod.metadata.uid;
    if (!uid) return;
    this.#dropContainers(uid);
    const labels = podLabels(pod);
    this.#pods.set(uid, { pod, labels });
    const add = (
      statuses: ContainerStatus[] | undefined,
      specs: ContainerSpec[] | undefined,
      init: boolean,
    ) => {
      for (const s of statuses ?? []) {
        const id = bareId(s.containerID);
        if (!id) continue;
        const spec = specs?.find((c) => c.name === s.name);
        this.#containers.set(id, {
          podUid: uid,
          labels: {
            ...labels,
            [`${PREFIX}pod_container_name`]: s.name,
            [`${PREFIX}pod_container_id`]: s.containerID!,
            [`${PREFIX}pod_container_image`]: spec?.image ?? "",
            [`${PREFIX}pod_container_init`]: String(init),
          },
        });
      }
    };
    add(pod.status?.containerStatuses, pod.spec?.containers, false);
    add(pod.status?.initContainerStatuses, pod.spec?.initContainers, true);
    add(pod.status?.ephemeralContainerStatuses, pod.spec?.ephemeralContainers, false);
    this.version++;
  }

  /**
   * Removes a pod.
   *
   * @param pod The deleted pod (only its UID is used).
   */
  deletePod(pod: Pod): void {
    const uid = pod.metadata.uid;
    if (!uid) return;
    this.#dropContainers(uid);
    this.#pods.delete(uid);
    this.version++;
  }

  #dropContainers(uid: string): void {
    for (const [id, c] of this.#containers) if (c.podUid === uid) this.#containers.delete(id);
  }

  /**
   * Sets (or, with undefined, clears) this node.
   *
   * @param node The node object.
   */
  setNode(node: Node | undefined): void {
    this.#node = node ? nodeLabels(node) : {};
    this.version++;
  }

  /**
   * The labels of a process's container: pod, container and node labels. When the container ID
   * is not (yet) in a pod's status but the pod UID from the cgroup path is known, the pod and
   * node labels without the container ones.
   *
   * @param containerId The bare container ID from the cgroup path.
   * @param podUid The pod UID from the cgroup path.
   * @returns The labels, or undefined when no pod matches.
   */
  lookup(containerId: string | undefined, podUid?: string): Record<string, string> | undefined {
    const c = containerId ? this.#containers.get(containerId) : undefined;
    if (c) return { ...c.labels, ...this.#node };
    const p = podUid ? this.#pods.get(podUid) : undefined;
    if (p) return { ...p.labels, ...this.#node };
    return undefined;
  }
}

/** Options of {@link KubernetesWatcher}. */
export interface KubernetesWatcherOptions {
  /** The API server. */
  connection: KubeConnection;
  /** This node's name (`--node`): only its pods are watched. */
  node: string;
  /** Where pods and the node go. */
  store: KubernetesStore;
  /**
   * Server-side timeout of one watch request; the watch is then renewed from the last resource
   * version.
   *
   * @default {300}
   */
  watchTimeoutSeconds?: number;
  /** @default {1000} */
  minBackoffMs?: number;
  /** @default {30000} */
  maxBackoffMs?: number;
}

/**
 * Lists and watches the pods of one node (`fieldSelector=spec.nodeName=<node>`) and the node
 * object itself (`fieldSelector=metadata.name=<node>`), as client-go's informers do: list, then
 * watch from the list's resource version, renew the watch when the server ends it, list again
 * when the version is too old (410 Gone), and back off on errors. A failing API server is one
 * warning and a metric; the store keeps what it had.
 */
export class KubernetesWatcher {
  readonly #opts: KubernetesWatcherOptions;
  readonly #client: Deno.HttpClient;
  readonly #abort = new AbortController();
  readonly #health = new SourceHealth("kubernetes", 0);
  readonly #loops: Promise<void>[] = [];
  readonly #synced: Promise<void>;
  #markSynced: Array<() => void> = [];

  /**
   * Starts both watches.
   *
   * @param opts The API server, the node and the store.
   */
  constructor(opts: KubernetesWatcherOptions) {
    this.#opts = opts;
    const conn = opts.connection;
    this.#client = Deno.createHttpClient({
      caCerts: conn.caCerts,
      ...(conn.clientCert ? { cert: conn.clientCert.cert, key: conn.clientCert.key } : {}),
    });
    const pods = Promise.withResolvers<void>();
    const node = Promise.withResolvers<void>();
    this.#markSynced = [pods.resolve, node.resolve];
    this.#synced = Promise.all([pods.promise, node.promise]).then(() => {});
    const sel = encodeURIComponent;
    this.#loops.push(this.#run<Pod>(
      "pod",
      `/api/v1/pods?fieldSelector=${sel(`spec.nodeName=${opts.node}`)}`,
      {
        reset: (items) => opts.store.resetPods(items),
        upsert: (p) => opts.store.upsertPod(p),
        remove: (p) => opts.store.deletePod(p),
      },
      pods.resolve,
    ));
    this.#loops.push(this.#run<Node>(
      "node",
      `/api/v1/nodes?fieldSelector=${sel(`metadata.name=${opts.node}`)}`,
      {
        reset: (items) => opts.store.setNode(items[0]),
        upsert: (n) => opts.store.setNode(n),
        remove: () => opts.store.setNode(undefined),
      },
      node.resolve,
    ));
  }

  /**
   * Resolves once pods and the node have been listed once (successfully or not), so that the
   * first profiles already carry Kubernetes labels.
   */
  get synced(): Promise<void> {
    return this.#synced;
  }

  async #request(path: string, signal: AbortSignal): Promise<Response> {
    const conn = this.#opts.connection;
    const headers: Record<string, string> = { Accept: "application/json" };
    const token = conn.token?.();
    if (token) headers.Authorization = `Bearer ${token}`;
    else if (conn.basic) headers.Authorization = `Basic ${conn.basic}`;
    const res = await fetch(`${conn.server}${path}`, { client: this.#client, headers, signal });
    if (!res.ok) {
      const body = (await res.text()).slice(0, 300);
      throw new HttpStatusError(res.status, `GET ${path}: ${res.status} ${body}`);
    }
    return res;
  }

  async #run<T extends { metadata: ObjectMeta }>(
    kind: "pod" | "node",
    path: string,
    handlers: { reset(items: T[]): void; upsert(o: T): void; remove(o: T): void },
    onFirstList: () => void,
  ): Promise<void> {
    const signal = this.#abort.signal;
    const minBackoff = this.#opts.minBackoffMs ?? 1000;
    let backoff = minBackoff;
    const timeout = this.#opts.watchTimeoutSeconds ?? 300;
    while (!signal.aborted) {
      try {
        const list = await (await this.#request(path, signal)).json() as ListResponse<T>;
        handlers.reset(list.items ?? []);
        labelMetrics.kubernetesEvents.inc({ kind, type: "LIST" });
        this.#health.succeeded();
        onFirstList();
        backoff = minBackoff;
        let rv = list.metadata?.resourceVersion ?? "";
        // Watch, renewing from the last version seen, until the version expires.
        for (;;) {
          const res = await this.#request(
            `${path}&watch=true&allowWatchBookmarks=true&timeoutSeconds=${timeout}` +
              `&resourceVersion=${encodeURIComponent(rv)}`,
            signal,
          );
          const result = await this.#consume<T>(kind, res, handlers, (v) => rv = v);
          if (result === "expired") break;
        }
      } catch (e) {
        if (signal.aborted) return;
        this.#health.failed(
          e,
          "Kubernetes labels are absent or stale until the API server answers",
        );
        onFirstList();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, backoff);
          function done() {
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            resolve();
          }
          signal.addEventListener("abort", done);
        });
        backoff = Math.min(backoff * 2, this.#opts.maxBackoffMs ?? 30_000);
      }
    }
  }

  /** Applies the events of one watch response; "expired" when a relist is needed. */
  async #consume<T extends { metadata: ObjectMeta }>(
    kind: string,
    res: Response,
    handlers: { upsert(o: T): void; remove(o: T): void },
    setVersion: (rv: string) => void,
  ): Promise<"ended" | "expired"> {
    if (!res.body) return "ended";
    const decoder = new TextDecoder();
    let buf = "";
    const handle = (line: string): "expired" | undefined => {
      if (line.trim() === "") return undefined;
      const ev = JSON.parse(line) as WatchEvent<T>;
      labelMetrics.kubernetesEvents.inc({ kind, type: ev.type });
      if (ev.type === "ERROR") {
        if (ev.object?.code === 410) return "expired";
        throw new Error(`watch error: ${ev.object?.code} ${ev.object?.message ?? ""}`);
      }
      const rv = ev.object?.metadata?.resourceVersion;
      if (rv) setVersion(rv);
      if (ev.type === "ADDED" || ev.type === "MODIFIED") handlers.upsert(ev.object);
      else if (ev.type === "DELETED") handlers.remove(ev.object);
      return undefined;
    };
    for await (const chunk of res.body) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (handle(line) === "expired") {
          await res.body.cancel().catch(() => {});
          return "expired";
        }
      }
    }
    if (handle(buf) === "expired") return "expired";
    log.debug("watch ended; renewing", { kind });
    return "ended";
  }

  /** Stops both watches and waits for them to end; safe to call twice. */
  async close(): Promise<void> {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort();
    for (const resolve of this.#markSynced) resolve();
    await Promise.allSettled(this.#loops);
    this.#client.close();
  }
}

/** A non-2xx answer of the API server. */
class HttpStatusError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpStatusError";
    this.status = status;
  }
}
