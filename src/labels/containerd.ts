// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import * as net from "node:net";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { lazyGrpcTransport } from "../grpc/mod.ts";
import { Containers } from "../gen/containerd/services/containers/v1/containers_pb.ts";

/**
 * Where containerd listens: the default, the `/var/run` spelling, k3s's own containerd and the
 * one Docker runs. The first that exists is used.
 */
export const CONTAINERD_SOCKETS: readonly string[] = [
  "/run/containerd/containerd.sock",
  "/var/run/containerd/containerd.sock",
  "/run/k3s/containerd/containerd.sock",
  "/var/run/docker/containerd/containerd.sock",
];

/** What the agent learns about a containerd container. */
export interface ContainerdContainer {
  id: string;
  /** The container's labels (the CRI plugin's `io.kubernetes.*` among them). */
  labels: Record<string, string>;
  image: string;
}

/**
 * The labels a containerd container gets: its ID, a name (the Kubernetes container name the CRI
 * plugin records, else nerdctl's name, else the ID: containerd itself has no names) and, for CRI
 * containers, the pod name.
 *
 * @param c The container.
 * @returns `__meta_containerd_*` labels.
 */
export function containerdLabels(c: ContainerdContainer): Record<string, string> {
  const out: Record<string, string> = {
    __meta_containerd_container_id: c.id,
    __meta_containerd_container_name: c.labels["io.kubernetes.container.name"] ??
      c.labels["nerdctl/name"] ?? c.id,
  };
  const pod = c.labels["io.kubernetes.pod.name"];
  if (pod) out.__meta_containerd_pod_name = pod;
  return out;
}

/**
 * A client of containerd's Containers service (gRPC over its unix socket), for `Get`.
 *
 * It uses the gRPC transport of `@connectrpc/connect-node` with a connection factory that dials
 * the unix socket, since containerd speaks HTTP/2 gRPC there and nowhere else.
 *
 * @example
 * ```ts ignore
 * import { ContainerdClient } from "./containerd.ts";
 * const c = new ContainerdClient("/run/containerd/containerd.sock");
 * console.log(await c.get("k8s.io", "4f5e..."));
 * ```
 */
export class ContainerdClient {
  readonly socketPath: string;
  readonly #timeoutMs: number;
  readonly #transport: Transport;

  /**
   * @param socketPath containerd's gRPC socket.
   * @param timeoutMs Per-call timeout.
   */
  constructor(socketPath: string, timeoutMs = 2000) {
    this.socketPath = socketPath;
    this.#timeoutMs = timeoutMs;
    this.#transport = lazyGrpcTransport({
      // The authority is what containerd's own Go client sends; the path is the socket.
      baseUrl: "http://localhost",
      nodeOptions: { createConnection: () => net.connect(socketPath) },
      // A dead containerd must fail fast, not hold a window open.
      idleConnectionTimeoutMs: 60_000,
    });
  }

  /**
   * Gets one container.
   *
   * @param namespace The containerd namespace (`k8s.io` for Kubernetes, `moby` for Docker, ...).
   * @param id The container ID.
   * @returns The container, or undefined when containerd does not know it there.
   * @throws {ConnectError} When the socket cannot be reached or the call fails otherwise.
   */
  async get(namespace: string, id: string): Promise<ContainerdContainer | undefined> {
    const client = createClient(Containers, this.#transport);
    try {
      const res = await client.get({ id }, {
        headers: { "containerd-namespace": namespace },
        timeoutMs: this.#timeoutMs,
      });
      const c = res.container;
      if (!c) return undefined;
      return { id: c.id, labels: { ...c.labels }, image: c.image };
    } catch (e) {
      if (ConnectError.from(e).code === Code.NotFound) return undefined;
      throw e;
    }
  }
}

/**
 * The first containerd socket that exists.
 *
 * @param candidates Paths to try, in order.
 * @returns The path, or undefined.
 */
export function findContainerdSocket(
  candidates: readonly string[] = CONTAINERD_SOCKETS,
): string | undefined {
  for (const path of candidates) {
    try {
      if (Deno.statSync(path).isSocket) return path;
    } catch {
      // absent
    }
  }
  return undefined;
}
