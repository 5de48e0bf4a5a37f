// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { LruCache } from "../process/mod.ts";
import { SourceHealth } from "./_health.ts";
import type { ContainerRef } from "./cgroup.ts";
import { type ContainerdClient, containerdLabels } from "./containerd.ts";
import type { DockerClient } from "./docker.ts";
import { labelMetrics } from "./metrics.ts";

function isSocket(path: string): boolean {
  try {
    return Deno.statSync(path).isSocket === true;
  } catch {
    return false;
  }
}

/** Options of {@link ContainerMetadata}. */
export interface ContainerMetadataOptions {
  /** The Docker Engine API (also used for Podman, whose socket speaks it). */
  docker?: DockerClient;
  /** containerd's Containers service. */
  containerd?: ContainerdClient;
  /**
   * Cache answers per container; off with `--metadata-disable-caching`.
   *
   * @default {true}
   */
  cache?: boolean;
  /**
   * How long an answer (a name, or "unknown container") is kept.
   *
   * @default {300000}
   */
  ttlMs?: number;
  /**
   * How long a failing socket is left alone before it is tried again.
   *
   * @default {30000}
   */
  backoffMs?: number;
}

/**
 * The container runtime labels of a container found in a cgroup path: IDs straight from the
 * path, names from the runtime's API (Docker Engine API, containerd's Containers service).
 *
 * A runtime that is missing or failing only costs its API-derived labels: one warning per
 * outage, `parca_agent_metadata_errors_total{provider}` per failure, and no call for a back-off
 * period, so a hung socket cannot hold up every window.
 */
export class ContainerMetadata {
  readonly #docker?: DockerClient;
  readonly #containerd?: ContainerdClient;
  readonly #cache: LruCache<string, Record<string, string>> | undefined;
  readonly #dockerHealth: SourceHealth;
  readonly #containerdHealth: SourceHealth;

  /** @param opts The runtime clients and cache policy. */
  constructor(opts: ContainerMetadataOptions = {}) {
    this.#docker = opts.docker;
    this.#containerd = opts.containerd;
    this.#cache = opts.cache === false ? undefined : new LruCache(4096, opts.ttlMs ?? 300_000);
    this.#dockerHealth = new SourceHealth("docker", opts.backoffMs ?? 30_000);
    this.#containerdHealth = new SourceHealth("containerd", opts.backoffMs ?? 30_000);
  }

  /**
   * The labels of a container.
   *
   * @param ref The container, from {@link findContainer}.
   * @returns `__meta_docker_*`, `__meta_containerd_*` or `__meta_lxc_*` labels (maybe none).
   */
  async labels(ref: ContainerRef): Promise<Record<string, string>> {
    const key = `${ref.runtime}/${ref.namespace ?? ""}/${ref.id}`;
    const cached = this.#cache?.get(key);
    if (cached) {
      labelMetrics.cacheRequests.inc({ cache: "container", result: "hit" });
      return cached;
    }
    if (this.#cache) labelMetrics.cacheRequests.inc({ cache: "container", result: "miss" });
    const { labels, cacheable } = await this.#lookup(ref);
    if (cacheable) this.#cache?.set(key, labels);
    return labels;
  }

  async #lookup(
    ref: ContainerRef,
  ): Promise<{ labels: Record<string, string>; cacheable: boolean }> {
    switch (ref.runtime) {
      case "lxc":
        return { labels: { __meta_lxc_container_id: ref.id }, cacheable: true };
      case "buildkit":
        return { labels: { __meta_docker_build_kit_container_id: ref.id }, cacheable: true };
      case "crio":
        // CRI-O has no API of its own here: its containers get their labels from Kubernetes.
        return { labels: {}, cacheable: true };
      case "docker":
      case "podman": {
        const labels: Record<string, string> = {};
        if (ref.runtime === "docker") labels.__meta_docker_container_id = ref.id;
        if (!this.#docker || !this.#dockerHealth.available) return { labels, cacheable: false };
        try {
          const c = await this.#docker.inspect(ref.id);
          this.#dockerHealth.succeeded();
          if (c) {
            labels.__meta_docker_container_id = c.id;
            labels.__meta_docker_container_name = c.name;
          }
          return { labels, cacheable: true };
        } catch (e) {
          this.#dockerHealth.failed(
            e,
            "__meta_docker_container_name is absent (is --metadata-container-runtime-socket-path right?)",
          );
          return { labels, cacheable: false };
        }
      }
      case "containerd":
      case "kubernetes": {
        // A CRI container whose layout names no runtime is most likely containerd's (k8s.io).
        const labels: Record<string, string> = {};
        if (ref.runtime === "containerd" && ref.certain) {
          labels.__meta_containerd_container_id = ref.id;
        }
        if (!this.#containerd || !this.#containerdHealth.available) {
          return { labels, cacheable: false };
        }
        // A plain two-level cgroup is only a guess (other software makes such groups too):
        // without a containerd socket there is nothing to confirm it with, and no warning due.
        if (!ref.certain && !isSocket(this.#containerd.socketPath)) {
          return { labels, cacheable: true };
        }
        try {
          const c = await this.#containerd.get(ref.namespace ?? "k8s.io", ref.id);
          this.#containerdHealth.succeeded();
          return { labels: c ? containerdLabels(c) : labels, cacheable: true };
        } catch (e) {
          this.#containerdHealth.failed(
            e,
            "__meta_containerd_container_name and _pod_name are absent",
          );
          return { labels, cacheable: false };
        }
      }
    }
  }

  /** Forgets every cached answer. */
  clear(): void {
    this.#cache?.clear();
  }
}
