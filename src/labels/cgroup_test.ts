// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, equal } from "node:assert/strict";
import { type ContainerRef, findContainer, mainCgroup, parseCgroup } from "./cgroup.ts";

const ID = "8d6a1a0b6f5e0c7e3a9e4b1f2c3d4e5f60718293a4b5c6d7e8f9012345678901";
const UID = "4c9f3e47-a4a4-4d8a-9b5c-2f6f0c1e1a11";
const UID_ = UID.replaceAll("-", "_");

function v1(path: string, extra = "0::/system.slice/containerd.service"): string {
  // The layout of a cgroup v1 (hybrid) host: one line per hierarchy, as the kernel prints them.
  return [
    `12:freezer:${path}`,
    `11:cpuset:${path}`,
    `10:devices:${path}`,
    `9:hugetlb:${path}`,
    `8:blkio:${path}`,
    `7:perf_event:${path}`,
    `6:net_cls,net_prio:${path}`,
    `5:memory:${path}`,
    `4:pids:${path}`,
    `3:rdma:/`,
    `2:cpu,cpuacct:${path}`,
    `1:name=systemd:${path}`,
    extra,
    "",
  ].join("\n");
}

interface Fixture {
  name: string;
  text: string;
  main: string;
  container: ContainerRef | undefined;
}

const FIXTURES: Fixture[] = [
  {
    name: "host process, cgroup v2",
    text: "0::/system.slice/cron.service\n",
    main: "/system.slice/cron.service",
    container: undefined,
  },
  {
    name: "user session, cgroup v2",
    text: "0::/user.slice/user-1000.slice/session-3.scope\n",
    main: "/user.slice/user-1000.slice/session-3.scope",
    container: undefined,
  },
  {
    name: "host process, cgroup v1 (most specific v1 entry)",
    text: v1("/system.slice/ssh.service", "0::/"),
    main: "/system.slice/ssh.service",
    container: undefined,
  },
  {
    name: "Docker, cgroupfs driver, v1",
    text: v1(`/docker/${ID}`),
    main: "/system.slice/containerd.service",
    container: { runtime: "docker", id: ID, certain: true },
  },
  {
    name: "Docker, systemd driver, v1",
    text: v1(`/system.slice/docker-${ID}.scope`, "0::/"),
    main: `/system.slice/docker-${ID}.scope`,
    container: { runtime: "docker", id: ID, certain: true },
  },
  {
    name: "Docker, systemd driver, v2",
    text: `0::/system.slice/docker-${ID}.scope\n`,
    main: `/system.slice/docker-${ID}.scope`,
    container: { runtime: "docker", id: ID, certain: true },
  },
  {
    name: "Docker, cgroupfs driver, v2",
    text: `0::/docker/${ID}\n`,
    main: `/docker/${ID}`,
    container: { runtime: "docker", id: ID, certain: true },
  },
  {
    name: "Docker BuildKit build step, v2",
    text: "0::/docker/buildkit/hwnfgtpxbhh12vomzqgh1hdxa\n",
    main: "/docker/buildkit/hwnfgtpxbhh12vomzqgh1hdxa",
    container: { runtime: "buildkit", id: "hwnfgtpxbhh12vomzqgh1hdxa", certain: true },
  },
  {
    name: "containerd CRI (kubelet systemd driver), v2",
    text:
      `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope\n`,
    main:
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    container: { runtime: "containerd", id: ID, namespace: "k8s.io", certain: true, podUid: UID },
  },
  {
    name: "containerd CRI (kubelet systemd driver), v1",
    text: v1(
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`,
      "0::/",
    ),
    main:
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    container: { runtime: "containerd", id: ID, namespace: "k8s.io", certain: true, podUid: UID },
  },
  {
    name: "k3s (cgroupfs driver, runtime not in the path), v2",
    text: `0::/kubepods/besteffort/pod${UID}/${ID}\n`,
    main: `/kubepods/besteffort/pod${UID}/${ID}`,
    container: { runtime: "kubernetes", id: ID, certain: true, podUid: UID },
  },
  {
    name: "kubelet cgroupfs driver, guaranteed QoS, v1",
    text: v1(`/kubepods/pod${UID}/${ID}`),
    main: "/system.slice/containerd.service",
    container: { runtime: "kubernetes", id: ID, certain: true, podUid: UID },
  },
  {
    name: "k3d: a pod inside a k3s node that is itself a Docker container (innermost wins)",
    text: `0::/system.slice/docker-${"f".repeat(64)}.scope/kubepods/burstable/pod${UID}/${ID}\n`,
    main: `/system.slice/docker-${"f".repeat(64)}.scope/kubepods/burstable/pod${UID}/${ID}`,
    container: { runtime: "kubernetes", id: ID, certain: true, podUid: UID },
  },
  {
    name: "CRI-O (systemd driver), v2",
    text: `0::/kubepods.slice/kubepods-pod${UID_}.slice/crio-${ID}.scope\n`,
    main: `/kubepods.slice/kubepods-pod${UID_}.slice/crio-${ID}.scope`,
    container: { runtime: "crio", id: ID, certain: true, podUid: UID },
  },
  {
    name: "CRI-O (cgroupfs driver), v1",
    text: v1(`/kubepods/burstable/pod${UID}/crio-${ID}`, "0::/"),
    main: `/kubepods/burstable/pod${UID}/crio-${ID}`,
    container: { runtime: "crio", id: ID, certain: true, podUid: UID },
  },
  {
    name: "CRI-O's conmon is not the container",
    text: `0::/kubepods.slice/kubepods-pod${UID_}.slice/crio-conmon-${ID}.scope\n`,
    main: `/kubepods.slice/kubepods-pod${UID_}.slice/crio-conmon-${ID}.scope`,
    container: undefined,
  },
  {
    name: "Docker via cri-dockerd in Kubernetes, v1",
    text: v1(`/kubepods.slice/kubepods-pod${UID_}.slice/docker-${ID}.scope`, "0::/"),
    main: `/kubepods.slice/kubepods-pod${UID_}.slice/docker-${ID}.scope`,
    container: { runtime: "docker", id: ID, certain: true, podUid: UID },
  },
  {
    name: "Podman rootful (systemd), v2",
    text: `0::/machine.slice/libpod-${ID}.scope/container\n`,
    main: `/machine.slice/libpod-${ID}.scope/container`,
    container: { runtime: "podman", id: ID, certain: true },
  },
  {
    name: "Podman rootless, v2",
    text:
      `0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope/container\n`,
    main: `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope/container`,
    container: { runtime: "podman", id: ID, certain: true },
  },
  {
    name: "Podman (cgroupfs), v1",
    text: v1(`/libpod_parent/libpod-${ID}`, "0::/"),
    main: `/libpod_parent/libpod-${ID}`,
    container: { runtime: "podman", id: ID, certain: true },
  },
  {
    name: "Podman's conmon is not the container",
    text: `0::/machine.slice/libpod-conmon-${ID}.scope\n`,
    main: `/machine.slice/libpod-conmon-${ID}.scope`,
    container: undefined,
  },
  {
    name: "nerdctl (systemd), v2",
    text: `0::/system.slice/nerdctl-${ID}.scope\n`,
    main: `/system.slice/nerdctl-${ID}.scope`,
    container: { runtime: "containerd", id: ID, namespace: "default", certain: true },
  },
  {
    name: "containerd without a cgroup path (ctr run): /<namespace>/<id>, v2",
    text: "0::/default/redis-test\n",
    main: "/default/redis-test",
    container: { runtime: "containerd", namespace: "default", id: "redis-test", certain: false },
  },
  {
    name: "containerd without a cgroup path, v1",
    text: v1("/k8s.io/" + ID, "0::/"),
    main: "/k8s.io/" + ID,
    container: { runtime: "containerd", namespace: "k8s.io", id: ID, certain: false },
  },
  {
    name: "LXC 4+ payload with systemd inside, v2",
    text: "0::/lxc.payload.web01/system.slice/nginx.service\n",
    main: "/lxc.payload.web01/system.slice/nginx.service",
    container: { runtime: "lxc", id: "web01", certain: true },
  },
  {
    name: "LXC monitor, v2",
    text: "0::/lxc.monitor.web01\n",
    main: "/lxc.monitor.web01",
    container: { runtime: "lxc", id: "web01", certain: true },
  },
  {
    name: "LXC (old layout), v1",
    text: v1("/lxc/web01", "0::/"),
    main: "/lxc/web01",
    container: { runtime: "lxc", id: "web01", certain: true },
  },
  {
    name: "init.scope is not a containerd container",
    text: "0::/init.scope\n",
    main: "/init.scope",
    container: undefined,
  },
];

Deno.test("findContainer() and mainCgroup() read each runtime's real cgroup layout", async (t) => {
  for (const f of FIXTURES) {
    await t.step(f.name, () => {
      const entries = parseCgroup(f.text);
      equal(mainCgroup(entries), f.main);
      deepStrictEqual(findContainer(entries), f.container);
    });
  }
});

Deno.test("parseCgroup() splits hierarchy, controllers and path, skipping junk", () => {
  deepStrictEqual(parseCgroup("6:net_cls,net_prio:/a:b\n\nbad\n0::/\n"), [
    { hierarchy: 6, controllers: ["net_cls", "net_prio"], path: "/a:b" },
    { hierarchy: 0, controllers: [], path: "/" },
  ]);
});

Deno.test("mainCgroup() prefers the cpu controller among equally specific v1 entries", () => {
  equal(mainCgroup(parseCgroup("3:memory:/a/m\n2:cpu,cpuacct:/a/c\n0::/\n")), "/a/c");
  equal(mainCgroup(parseCgroup("0::/\n")), "/");
  equal(mainCgroup([]), "");
});
