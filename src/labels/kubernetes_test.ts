// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Kubernetes metadata against a local fake API server: no cluster exists on these machines, so
// the server answers list and watch requests with real-format PodList/NodeList bodies and watch
// event streams (ADDED, MODIFIED, DELETED, BOOKMARK, and a 410 ERROR that forces a relist), and
// KUBECONFIG points the agent at it.

import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { findKubeConnection, KubeConfigError, parseKubeconfig } from "./kube_config.ts";
import {
  KubernetesStore,
  KubernetesWatcher,
  type Node,
  type Pod,
  podLabels,
} from "./kubernetes.ts";
import { startLabels } from "./start.ts";

const NODE = "node-a";
const CID = "9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c";
const INIT_CID = "1111111111111111111111111111111111111111111111111111111111111111";
const CID2 = "2222222222222222222222222222222222222222222222222222222222222222";
const UID1 = "4c9f3e47-a4a4-4d8a-9b5c-2f6f0c1e1a11";
const UID2 = "7d1e2f30-b5b5-4e9b-8c6d-3a7a1d2f2b22";

/** A pod as the API server returns it (trimmed of fields the agent ignores, shape unchanged). */
function pod(uid: string, name: string, rv: string, extra: Partial<Pod["metadata"]> = {}): Pod {
  return {
    metadata: {
      name,
      namespace: "shop",
      uid,
      resourceVersion: rv,
      labels: { "app.kubernetes.io/name": "web", "pod-template-hash": "7f9c6d5b4" },
      annotations: { "kubectl.kubernetes.io/restartedAt": "2024-03-01T10:00:00Z" },
      ownerReferences: [{
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: "web-7f9c6d5b4",
        uid: "0e1f2a3b-c4d5-4e6f-8a9b-0c1d2e3f4a5b",
        controller: true,
        blockOwnerDeletion: true,
      } as unknown as { kind: string; name: string; controller: boolean }],
      ...extra,
    },
    spec: {
      nodeName: NODE,
      initContainers: [{ name: "migrate", image: "registry.example.com/migrate:1" }],
      containers: [{ name: "app", image: "registry.example.com/web:1.2.3" }],
    },
    status: {
      phase: "Running",
      podIP: "10.42.0.17",
      hostIP: "192.168.1.10",
      conditions: [
        { type: "Initialized", status: "True" },
        { type: "Ready", status: "True" },
        { type: "ContainersReady", status: "True" },
        { type: "PodScheduled", status: "True" },
      ],
      initContainerStatuses: [{
        name: "migrate",
        containerID: `containerd://${uid === UID1 ? INIT_CID : "3".repeat(64)}`,
      }],
      containerStatuses: [{
        name: "app",
        containerID: `containerd://${uid === UID1 ? CID : CID2}`,
      }],
    },
  };
}

const nodeObject = (rv: string, zone: string): Node => ({
  metadata: {
    name: NODE,
    uid: "5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c",
    resourceVersion: rv,
    labels: { "kubernetes.io/hostname": NODE, "topology.kubernetes.io/zone": zone },
    annotations: { "node.alpha.kubernetes.io/ttl": "0" },
  },
});

interface FakeApi {
  url: string;
  requests: URL[];
  auth: string[];
  /** Sends one watch event on the open pod watch. */
  podEvent(type: string, object: unknown): void;
  /** Ends the open pod watch (as the server's timeout does). */
  endPodWatch(): void;
  nodeEvent(type: string, object: unknown): void;
  close(): Promise<void>;
  pods: Pod[];
}

function fakeApi(): FakeApi {
  const requests: URL[] = [];
  const auth: string[] = [];
  const watches: Record<string, ReadableStreamDefaultController<Uint8Array> | undefined> = {};
  const enc = new TextEncoder();
  const state = { pods: [pod(UID1, "web-7f9c6d5b4-x2k8p", "100")], podWatches: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    requests.push(url);
    auth.push(req.headers.get("authorization") ?? "");
    const kind = url.pathname === "/api/v1/pods"
      ? "pod"
      : url.pathname === "/api/v1/nodes"
      ? "node"
      : "";
    if (!kind) return Response.json({ kind: "Status", code: 404 }, { status: 404 });
    if (url.searchParams.get("watch") !== "true") {
      return Response.json(
        kind === "pod"
          ? {
            kind: "PodList",
            apiVersion: "v1",
            metadata: { resourceVersion: "100" },
            items: state.pods,
          }
          : {
            kind: "NodeList",
            apiVersion: "v1",
            metadata: { resourceVersion: "100" },
            items: [nodeObject("90", "zone-1")],
          },
      );
    }
    if (kind === "pod" && ++state.podWatches === 2) {
      // The second pod watch starts from a version the server no longer has.
      const gone = {
        type: "ERROR",
        object: {
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          message: "too old resource version: 101 (150)",
          reason: "Expired",
          code: 410,
        },
      };
      return new Response(JSON.stringify(gone) + "\n", {
        headers: { "content-type": "application/json" },
      });
    }
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        watches[kind] = c;
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  });
  const send = (kind: string, type: string, object: unknown) =>
    watches[kind]?.enqueue(enc.encode(JSON.stringify({ type, object }) + "\n"));
  return {
    url: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`,
    requests,
    auth,
    get pods() {
      return state.pods;
    },
    set pods(p: Pod[]) {
      state.pods = p;
    },
    podEvent: (type, object) => send("pod", type, object),
    endPodWatch() {
      watches.pod?.close();
      watches.pod = undefined;
    },
    nodeEvent: (type, object) => send("node", type, object),
    async close() {
      for (const c of Object.values(watches)) {
        try {
          c?.close();
        } catch {
          // already closed by the client going away
        }
      }
      await server.shutdown();
    },
  } as FakeApi;
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function kubeconfig(server: string, token = "s3cr3t"): string {
  return `apiVersion: v1
kind: Config
current-context: test
clusters:
  - name: fake
    cluster:
      server: ${server}
contexts:
  - name: test
    context:
      cluster: fake
      user: agent
      namespace: default
users:
  - name: agent
    user:
      token: ${token}
`;
}

Deno.test("podLabels() gives Prometheus's pod labels, sanitised", () => {
  const l = podLabels(pod(UID1, "web-1", "1"));
  equal(l.__meta_kubernetes_namespace, "shop");
  equal(l.__meta_kubernetes_pod_name, "web-1");
  equal(l.__meta_kubernetes_pod_label_app_kubernetes_io_name, "web");
  equal(l.__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name, "true");
  equal(
    l.__meta_kubernetes_pod_annotation_kubectl_kubernetes_io_restartedAt,
    "2024-03-01T10:00:00Z",
  );
  equal(l.__meta_kubernetes_pod_annotationpresent_kubectl_kubernetes_io_restartedAt, "true");
  equal(l.__meta_kubernetes_pod_ready, "true");
  equal(l.__meta_kubernetes_pod_phase, "Running");
  equal(l.__meta_kubernetes_pod_ip, "10.42.0.17");
  equal(l.__meta_kubernetes_pod_host_ip, "192.168.1.10");
  equal(l.__meta_kubernetes_pod_node_name, NODE);
  equal(l.__meta_kubernetes_pod_uid, UID1);
  equal(l.__meta_kubernetes_pod_controller_kind, "ReplicaSet");
  equal(l.__meta_kubernetes_pod_controller_name, "web-7f9c6d5b4");
  const pending = pod(UID2, "web-2", "1");
  pending.status!.conditions = [];
  equal(podLabels(pending).__meta_kubernetes_pod_ready, "unknown");
});

Deno.test("KubernetesStore matches containers (and init containers) by ID, pods by UID", () => {
  const store = new KubernetesStore();
  store.resetPods([pod(UID1, "web-1", "1")]);
  store.setNode(nodeObject("1", "zone-1"));
  const app = store.lookup(CID)!;
  equal(app.__meta_kubernetes_pod_container_name, "app");
  equal(app.__meta_kubernetes_pod_container_id, `containerd://${CID}`);
  equal(app.__meta_kubernetes_pod_container_image, "registry.example.com/web:1.2.3");
  equal(app.__meta_kubernetes_pod_container_init, "false");
  equal(app.__meta_kubernetes_node_name, NODE);
  equal(app.__meta_kubernetes_node_label_topology_kubernetes_io_zone, "zone-1");
  equal(app.__meta_kubernetes_node_labelpresent_kubernetes_io_hostname, "true");
  equal(app.__meta_kubernetes_node_annotation_node_alpha_kubernetes_io_ttl, "0");
  equal(store.lookup(INIT_CID)!.__meta_kubernetes_pod_container_init, "true");
  const byPod = store.lookup("f".repeat(64), UID1)!;
  equal(byPod.__meta_kubernetes_pod_name, "web-1");
  equal(byPod.__meta_kubernetes_pod_container_name, undefined);
  equal(store.lookup("f".repeat(64)), undefined);
  store.deletePod(pod(UID1, "web-1", "2"));
  equal(store.lookup(CID), undefined);
});

Deno.test({
  name: "KubernetesWatcher lists and watches this node's pods and node (add, modify, delete, 410)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const api = fakeApi();
    const store = new KubernetesStore();
    const watcher = new KubernetesWatcher({
      connection: { server: api.url, source: "test", caCerts: [], token: () => "tok" },
      node: NODE,
      store,
      minBackoffMs: 50,
    });
    try {
      await watcher.synced;
      equal(store.lookup(CID)?.__meta_kubernetes_pod_name, "web-7f9c6d5b4-x2k8p");
      equal(store.lookup(CID)?.__meta_kubernetes_node_label_topology_kubernetes_io_zone, "zone-1");
      const lists = api.requests.filter((u) => u.searchParams.get("watch") !== "true");
      deepStrictEqual(
        lists.map((u) => u.searchParams.get("fieldSelector")).sort(),
        [`metadata.name=${NODE}`, `spec.nodeName=${NODE}`],
      );
      ok(api.auth.every((a) => a === "Bearer tok"));

      await until(
        "the pod watch",
        () =>
          api.requests.some((u) =>
            u.searchParams.get("watch") === "true" && u.pathname === "/api/v1/pods"
          ),
      );
      const watch = api.requests.find((u) =>
        u.searchParams.get("watch") === "true" && u.pathname === "/api/v1/pods"
      )!;
      equal(watch.searchParams.get("resourceVersion"), "100");
      equal(watch.searchParams.get("fieldSelector"), `spec.nodeName=${NODE}`);

      // ADDED: a second pod appears.
      const v0 = store.version;
      api.podEvent("ADDED", pod(UID2, "web-7f9c6d5b4-q9z7r", "101"));
      await until("ADDED", () => store.lookup(CID2) !== undefined);
      ok(store.version > v0);
      // MODIFIED: a label changes.
      const changed = pod(UID1, "web-7f9c6d5b4-x2k8p", "102", {
        labels: { "app.kubernetes.io/name": "web", track: "canary" },
      });
      api.podEvent("MODIFIED", changed);
      await until(
        "MODIFIED",
        () => store.lookup(CID)?.__meta_kubernetes_pod_label_track === "canary",
      );
      // BOOKMARK: only the version moves.
      api.podEvent("BOOKMARK", {
        kind: "Pod",
        apiVersion: "v1",
        metadata: { resourceVersion: "103" },
      });
      // DELETED: the second pod goes.
      api.podEvent("DELETED", pod(UID2, "web-7f9c6d5b4-q9z7r", "104"));
      await until("DELETED", () => store.lookup(CID2) === undefined);
      // Node change.
      api.nodeEvent("MODIFIED", nodeObject("105", "zone-2"));
      await until(
        "node MODIFIED",
        () =>
          store.lookup(CID)?.__meta_kubernetes_node_label_topology_kubernetes_io_zone === "zone-2",
      );

      // The server ends the watch; it is renewed from the last version, which has expired
      // (410): the agent lists again and picks up the state from the new list.
      api.pods = [pod(UID2, "web-7f9c6d5b4-q9z7r", "150")];
      api.endPodWatch();
      await until(
        "the relist",
        () => store.lookup(CID2) !== undefined && store.lookup(CID) === undefined,
      );
      const podWatches = api.requests.filter((u) =>
        u.pathname === "/api/v1/pods" && u.searchParams.get("watch") === "true"
      );
      equal(podWatches[1].searchParams.get("resourceVersion"), "104");
      equal(
        api.requests.filter((u) =>
          u.pathname === "/api/v1/pods" && u.searchParams.get("watch") !== "true"
        ).length,
        2,
      );
    } finally {
      await watcher.close();
      await api.close();
    }
  },
});

Deno.test({
  name: "startLabels() with KUBECONFIG gives processes in pods their __meta_kubernetes_* labels",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const api = fakeApi();
    const dir = await Deno.makeTempDir();
    const files: Record<string, string> = { [`${dir}/kubeconfig`]: kubeconfig(api.url) };
    // A fake procfs: pid 4242 is in the app container of the first pod (k3s cgroupfs layout).
    await Deno.mkdir(`${dir}/proc/4242`, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/proc/4242/cgroup`,
      `0::/kubepods/besteffort/pod${UID1}/${CID}\n`,
    );
    const runtime = await startLabels({
      node: NODE,
      externalLabels: [["cluster", "test"]],
      profileName: "parca_agent_cpu",
      agentRevision: "abc",
      relabelConfigs: [],
      disableCaching: false,
      containerRuntimeSocketPath: "",
      kubeEnvironment: {
        env: { KUBECONFIG: `/nonexistent:${dir}/kubeconfig` },
        readFile: (p) => files[p],
      },
      procRoot: `${dir}/proc`,
    });
    try {
      equal(runtime.kubernetesSource, `${dir}/kubeconfig`);
      ok(api.auth.includes("Bearer s3cr3t"));
      const p = await runtime.manager.process(4242, undefined, "web");
      equal(p.raw.__meta_kubernetes_pod_name, "web-7f9c6d5b4-x2k8p");
      equal(p.raw.__meta_kubernetes_pod_container_name, "app");
      equal(p.raw.__meta_kubernetes_namespace, "shop");
      equal(p.raw.__meta_process_cgroup, `/kubepods/besteffort/pod${UID1}/${CID}`);
    } finally {
      await runtime.close();
      await api.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("parseKubeconfig() reads the current context: server, CA, token or client certificate", () => {
  const files: Record<string, string> = {
    "/etc/kube/ca.pem": "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
    "/etc/kube/token": "file-token\n",
  };
  const text = `current-context: b
clusters:
  - name: c1
    cluster: { server: "https://10.0.0.1:6443/", certificate-authority: ca.pem }
  - name: c2
    cluster:
      server: https://k8s.example.com
      certificate-authority-data: ${btoa("PEM-DATA")}
contexts:
  - { name: a, context: { cluster: c2, user: u2 } }
  - { name: b, context: { cluster: c1, user: u1 } }
users:
  - { name: u1, user: { tokenFile: token } }
  - name: u2
    user:
      client-certificate-data: ${btoa("CERT")}
      client-key-data: ${btoa("KEY")}
`;
  const b = parseKubeconfig(text, "/etc/kube/config", (p) => files[p]);
  equal(b.server, "https://10.0.0.1:6443");
  deepStrictEqual(b.caCerts, [files["/etc/kube/ca.pem"]]);
  equal(b.token?.(), "file-token");
  const a = parseKubeconfig(
    text.replace("current-context: b", "current-context: a"),
    "/etc/kube/config",
  );
  deepStrictEqual(a.caCerts, ["PEM-DATA"]);
  deepStrictEqual(a.clientCert, { cert: "CERT", key: "KEY" });
  throws(
    () => parseKubeconfig(text.replace("current-context: b", "current-context: z"), "/k"),
    (e: Error) => e instanceof KubeConfigError && /context "z" is not defined/.test(e.message),
  );
  throws(
    () =>
      parseKubeconfig(
        text.replace("{ tokenFile: token }", "{ exec: { command: aws } }"),
        "/etc/kube/config",
        (p) => files[p],
      ),
    /exec or auth-provider plugin, which is not supported/,
  );
});

Deno.test("findKubeConnection() prefers the in-cluster service account and re-reads its token", () => {
  let token = "t1";
  const conn = findKubeConnection({
    env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443", KUBECONFIG: "/x" },
    readFile: (p) =>
      p.endsWith("/token")
        ? token
        : p.endsWith("/ca.crt")
        ? "CA"
        : p === "/x"
        ? kubeconfig("http://other")
        : undefined,
  })!;
  equal(conn.server, "https://10.96.0.1:443");
  equal(conn.source, "in-cluster");
  deepStrictEqual(conn.caCerts, ["CA"]);
  equal(conn.token?.(), "t1");
  token = "t2";
  equal(conn.token?.(), "t2");
  equal(findKubeConnection({ env: {}, readFile: () => undefined }), undefined);
  equal(
    findKubeConnection({
      env: { KUBERNETES_SERVICE_HOST: "fd00::1" },
      readFile: (p) => p.endsWith("/token") ? "t" : undefined,
    })
      ?.server,
    "https://[fd00::1]:443",
  );
});

Deno.test({
  name: "startLabels() keeps going when the API server does not answer",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t0 = Date.now();
    const runtime = await startLabels({
      node: NODE,
      externalLabels: [],
      profileName: "parca_agent_cpu",
      agentRevision: "abc",
      relabelConfigs: [],
      disableCaching: false,
      containerRuntimeSocketPath: "",
      kubernetesSyncTimeoutMs: 2000,
      kubeEnvironment: {
        env: { KUBECONFIG: "/k" },
        readFile: (p) => p === "/k" ? kubeconfig("http://127.0.0.1:1") : undefined,
      },
    });
    try {
      ok(Date.now() - t0 < 2500);
      const series = await runtime.manager.labels(Deno.pid, undefined, Deno.pid, "main");
      equal(series?.labels.node, NODE);
    } finally {
      await runtime.close();
    }
  },
});
