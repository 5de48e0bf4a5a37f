// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/** One line of /proc/PID/cgroup: `hierarchy-ID:controller-list:path`. */
export interface CgroupEntry {
  /** 0 for the cgroup v2 (unified) hierarchy. */
  hierarchy: number;
  /** v1 controllers (`cpu`, `memory`, `name=systemd`...); empty for v2. */
  controllers: string[];
  /** The path inside that hierarchy, starting with `/`. */
  path: string;
}

/** The container runtimes recognised from cgroup paths. */
export type ContainerRuntime =
  | "docker"
  | "containerd"
  | "crio"
  | "podman"
  | "lxc"
  | "buildkit"
  | "kubernetes";

/** A container found in a process's cgroup paths. */
export interface ContainerRef {
  /**
   * Who runs it. `kubernetes` is a Kubernetes container whose cgroup path does not name the
   * runtime (the kubelet's cgroupfs layout, `/kubepods/<qos>/pod<uid>/<id>`).
   */
  runtime: ContainerRuntime;
  /** The container ID (64 hex digits for Docker, CRI, CRI-O, Podman; a name for LXC). */
  id: string;
  /** The containerd namespace, when the layout names it (`k8s.io` for CRI containers). */
  namespace?: string;
  /**
   * False for containerd's plain `/<namespace>/<id>` layout, which any two-level cgroup matches:
   * such a container is only believed once containerd knows it.
   */
  certain: boolean;
  /** The pod UID, when the process is in a Kubernetes pod's cgroup. */
  podUid?: string;
}

/**
 * Parses /proc/PID/cgroup. Malformed lines are skipped.
 *
 * @example
 * ```ts
 * import { parseCgroup } from "./cgroup.ts";
 * const [e] = parseCgroup("0::/system.slice/cron.service\n");
 * console.assert(e.hierarchy === 0 && e.path === "/system.slice/cron.service");
 * ```
 *
 * @param text The file's content.
 * @returns Its entries, in file order.
 */
export function parseCgroup(text: string): CgroupEntry[] {
  const out: CgroupEntry[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const a = line.indexOf(":");
    const b = a < 0 ? -1 : line.indexOf(":", a + 1);
    if (b < 0) continue;
    const hierarchy = Number(line.slice(0, a));
    const path = line.slice(b + 1);
    if (!Number.isInteger(hierarchy) || !path.startsWith("/")) continue;
    const list = line.slice(a + 1, b);
    out.push({ hierarchy, controllers: list === "" ? [] : list.split(","), path });
  }
  return out;
}

function depth(path: string): number {
  return path === "/" ? 0 : path.split("/").length - 1;
}

/**
 * The process's main cgroup: the unified (v2) entry when it is not the root, else the most
 * specific v1 entry (the deepest path; on a tie the one with the `cpu` controller, then the
 * first). On hybrid hosts the runtimes create their groups in the v1 hierarchies and the unified
 * one may stay at `/`, hence the fallback.
 *
 * @param entries Parsed /proc/PID/cgroup.
 * @returns The path, or "" when there are no entries.
 */
export function mainCgroup(entries: readonly CgroupEntry[]): string {
  const unified = entries.find((e) => e.hierarchy === 0 && e.controllers.length === 0);
  if (unified && unified.path !== "/") return unified.path;
  let best: CgroupEntry | undefined;
  for (const e of entries) {
    if (e === unified) continue;
    if (
      !best || depth(e.path) > depth(best.path) ||
      (depth(e.path) === depth(best.path) && e.controllers.includes("cpu") &&
        !best.controllers.includes("cpu"))
    ) {
      best = e;
    }
  }
  return best?.path ?? unified?.path ?? "";
}

const HEX64 = /^[0-9a-f]{64}$/;
// systemd scopes and cgroupfs names made by the runtimes; conmon's `crio-conmon-<id>` and
// `libpod-conmon-<id>` do not match, since conmon is the monitor, not the container.
const PREFIXED = /^(docker|cri-containerd|crio|libpod|nerdctl)-([0-9a-f]{64})(?:\.scope)?$/;
const RUNTIME_OF_PREFIX: Record<string, ContainerRuntime> = {
  docker: "docker",
  "cri-containerd": "containerd",
  crio: "crio",
  libpod: "podman",
  nerdctl: "containerd",
};
// `pod<uid>` (cgroupfs) or `kubepods-<qos>-pod<uid with _>.slice` (systemd).
const POD =
  /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;
const LXC = /^lxc\.(?:payload|monitor)\.(.+)$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** The container of one cgroup path, innermost first (a pod in a k3d node is the pod's). */
function containerOfPath(path: string): ContainerRef | undefined {
  const parts = path.split("/").filter((p) => p !== "");
  const isK8s = parts.some((p) => p.startsWith("kubepods"));
  const podUidAt = (i: number): string | undefined => {
    for (let k = i - 1; k >= 0; k--) {
      const m = POD.exec(parts[k]);
      if (m) return m[1].replaceAll("_", "-");
    }
    return undefined;
  };
  for (let i = parts.length - 1; i >= 0; i--) {
    const p = parts[i];
    const prefixed = PREFIXED.exec(p);
    if (prefixed) {
      const runtime = RUNTIME_OF_PREFIX[prefixed[1]];
      const ref: ContainerRef = { runtime, id: prefixed[2], certain: true };
      if (prefixed[1] === "cri-containerd") ref.namespace = "k8s.io";
      if (prefixed[1] === "nerdctl") ref.namespace = "default";
      const podUid = isK8s ? podUidAt(i) : undefined;
      if (podUid) ref.podUid = podUid;
      return ref;
    }
    if (HEX64.test(p) && i > 0) {
      const parent = parts[i - 1];
      if (parent === "docker") return { runtime: "docker", id: p, certain: true };
      if (POD.test(parent)) {
        const ref: ContainerRef = { runtime: "kubernetes", id: p, certain: true };
        const podUid = podUidAt(i);
        if (podUid) ref.podUid = podUid;
        return ref;
      }
    }
    if (
      i >= 2 && parts[i - 1] === "buildkit" && parts[i - 2] === "docker" && /^[0-9a-z]+$/.test(p)
    ) {
      return { runtime: "buildkit", id: p, certain: true };
    }
    const lxc = LXC.exec(p);
    if (lxc) return { runtime: "lxc", id: lxc[1], certain: true };
    if (i === 1 && parts[0] === "lxc" && NAME.test(p)) {
      return { runtime: "lxc", id: p, certain: true };
    }
  }
  // containerd's default for containers made without a cgroup path (ctr, the Go client):
  // /<namespace>/<id>. Only a guess until containerd confirms it.
  if (
    parts.length === 2 && NAME.test(parts[0]) && NAME.test(parts[1]) &&
    !/\.(?:slice|scope|service)$/.test(parts[0]) && !/\.(?:slice|scope|service)$/.test(parts[1]) &&
    !["docker", "lxc", "kubepods", "libpod_parent", "machine", "buildkit"].includes(parts[0])
  ) {
    return { runtime: "containerd", namespace: parts[0], id: parts[1], certain: false };
  }
  return undefined;
}

/**
 * Finds the container a process runs in from its cgroup entries: Docker (cgroupfs and systemd
 * layouts, v1 and v2), containerd (CRI incl. k3s, nerdctl, plain `/<namespace>/<id>`), CRI-O,
 * Podman, Docker BuildKit and LXC/LXD. The unified entry is looked at first, then the v1 ones.
 *
 * @example
 * ```ts
 * import { findContainer, parseCgroup } from "./cgroup.ts";
 * const id = "a".repeat(64);
 * const c = findContainer(parseCgroup(`0::/system.slice/docker-${id}.scope\n`));
 * console.assert(c?.runtime === "docker" && c.id === id);
 * ```
 *
 * @param entries Parsed /proc/PID/cgroup.
 * @returns The container, or undefined for processes outside containers.
 */
export function findContainer(entries: readonly CgroupEntry[]): ContainerRef | undefined {
  const ordered = [
    ...entries.filter((e) => e.hierarchy === 0),
    ...entries.filter((e) => e.hierarchy !== 0),
  ];
  let guess: ContainerRef | undefined;
  for (const e of ordered) {
    const ref = containerOfPath(e.path);
    if (ref?.certain) return ref;
    guess ??= ref;
  }
  return guess;
}
