// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// The Docker and containerd providers against local servers on unix sockets that answer with
// the runtimes' real response formats: the Docker Engine API's ContainerInspect JSON and 404
// body, and containerd's Containers/Get over gRPC (HTTP/2) with its NotFound status.

import * as http2 from "node:http2";
import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  Containers,
  GetContainerResponseSchema,
} from "../gen/containerd/services/containers/v1/containers_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ContainerdClient } from "./containerd.ts";
import { ContainerMetadata } from "./containers.ts";
import { DockerClient } from "./docker.ts";
import { labelMetrics } from "./metrics.ts";

const ID = "3f4e1b2c9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
const CRI_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

/** A trimmed but faithful ContainerInspect body (docker 24, API 1.43). */
function inspectBody(id: string, name: string): unknown {
  return {
    Id: id,
    Created: "2024-03-01T10:11:12.123456789Z",
    Path: "nginx",
    Args: ["-g", "daemon off;"],
    State: {
      Status: "running",
      Running: true,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: 41235,
      ExitCode: 0,
      Error: "",
      StartedAt: "2024-03-01T10:11:12.623456789Z",
      FinishedAt: "0001-01-01T00:00:00Z",
    },
    Image: "sha256:e4720093a3c1381245b53a5a51b417963b3c4472d3f47fc301930a4f3b17666a",
    ResolvConfPath: `/var/lib/docker/containers/${id}/resolv.conf`,
    HostnamePath: `/var/lib/docker/containers/${id}/hostname`,
    Name: `/${name}`,
    RestartCount: 0,
    Driver: "overlay2",
    Platform: "linux",
    HostConfig: { NetworkMode: "default", CgroupnsMode: "private" },
    Config: {
      Hostname: id.slice(0, 12),
      Image: "nginx:1.25",
      Labels: { maintainer: "NGINX Docker Maintainers <docker-maint@nginx.com>" },
    },
    NetworkSettings: { IPAddress: "172.17.0.2" },
  };
}

function dockerServer(path: string, requests: string[]): Deno.HttpServer {
  const server = Deno.serve({ path, transport: "unix", onListen() {} }, (req) => {
    const url = new URL(req.url);
    requests.push(url.pathname);
    const m = /^\/containers\/([^/]+)\/json$/.exec(url.pathname);
    if (m && ID.startsWith(m[1])) return Response.json(inspectBody(ID, "web-frontend"));
    if (m) {
      return Response.json({ message: `No such container: ${m[1]}` }, { status: 404 });
    }
    return Response.json({ message: "page not found" }, { status: 404 });
  });
  return server;
}

async function containerdServer(path: string): Promise<http2.Http2Server> {
  const handler = connectNodeAdapter({
    grpc: true,
    connect: false,
    grpcWeb: false,
    routes: (router) =>
      router.service(Containers, {
        get(req, ctx): MessageInitShape<typeof GetContainerResponseSchema> {
          const ns = ctx.requestHeader.get("containerd-namespace");
          if (ns === "k8s.io" && req.id === CRI_ID) {
            return {
              container: {
                id: CRI_ID,
                labels: {
                  "io.cri-containerd.kind": "container",
                  "io.kubernetes.container.name": "app",
                  "io.kubernetes.pod.name": "web-7f9c6d5b4-x2k8p",
                  "io.kubernetes.pod.namespace": "shop",
                  "io.kubernetes.pod.uid": "4c9f3e47-a4a4-4d8a-9b5c-2f6f0c1e1a11",
                },
                image: "registry.example.com/web:1.2.3",
                runtime: { name: "io.containerd.runc.v2" },
                snapshotter: "overlayfs",
                snapshotKey: CRI_ID,
                sandbox: "b".repeat(64),
              },
            };
          }
          if (ns === "default" && req.id === "redis-test") {
            return {
              container: { id: "redis-test", labels: {}, image: "docker.io/library/redis:7" },
            };
          }
          // containerd's own wording for a missing container.
          throw new ConnectError(
            `container "${req.id}" in namespace "${ns}": not found`,
            Code.NotFound,
          );
        },
      }),
  });
  const server = http2.createServer(handler);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

async function errorsOf(provider: string): Promise<number> {
  const m = await labelMetrics.metadataErrors.get();
  return m.values.find((v) => v.labels.provider === provider)?.value ?? 0;
}

Deno.test({
  name: "DockerClient.inspect() reads ContainerInspect over the unix socket",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    const requests: string[] = [];
    const server = dockerServer(`${dir}/docker.sock`, requests);
    const docker = new DockerClient(`${dir}/docker.sock`);
    try {
      deepStrictEqual(await docker.inspect(ID), { id: ID, name: "web-frontend" });
      equal(await docker.inspect("0".repeat(64)), undefined);
      deepStrictEqual(requests, [`/containers/${ID}/json`, `/containers/${"0".repeat(64)}/json`]);
    } finally {
      docker.close();
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("DockerClient.inspect() fails when the socket does not exist", async () => {
  const docker = new DockerClient("/nonexistent/docker.sock", 500);
  try {
    await rejects(docker.inspect(ID));
  } finally {
    docker.close();
  }
});

Deno.test({
  name: "ContainerdClient.get() calls Containers/Get with the namespace header",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    const server = await containerdServer(`${dir}/containerd.sock`);
    try {
      const client = new ContainerdClient(`${dir}/containerd.sock`);
      const c = await client.get("k8s.io", CRI_ID);
      equal(c?.id, CRI_ID);
      equal(c?.labels["io.kubernetes.pod.name"], "web-7f9c6d5b4-x2k8p");
      equal(c?.image, "registry.example.com/web:1.2.3");
      equal(await client.get("moby", CRI_ID), undefined);
      await rejects(new ContainerdClient(`${dir}/absent.sock`, 500).get("k8s.io", CRI_ID));
    } finally {
      server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "ContainerMetadata labels Docker, containerd, BuildKit and LXC containers",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    const requests: string[] = [];
    const docker = dockerServer(`${dir}/docker.sock`, requests);
    const containerd = await containerdServer(`${dir}/containerd.sock`);
    const dockerClient = new DockerClient(`${dir}/docker.sock`);
    const meta = new ContainerMetadata({
      docker: dockerClient,
      containerd: new ContainerdClient(`${dir}/containerd.sock`),
    });
    try {
      deepStrictEqual(await meta.labels({ runtime: "docker", id: ID, certain: true }), {
        __meta_docker_container_id: ID,
        __meta_docker_container_name: "web-frontend",
      });
      // Cached: the engine is asked once.
      await meta.labels({ runtime: "docker", id: ID, certain: true });
      equal(requests.length, 1);
      deepStrictEqual(
        await meta.labels({
          runtime: "containerd",
          id: CRI_ID,
          namespace: "k8s.io",
          certain: true,
        }),
        {
          __meta_containerd_container_id: CRI_ID,
          __meta_containerd_container_name: "app",
          __meta_containerd_pod_name: "web-7f9c6d5b4-x2k8p",
        },
      );
      // The kubelet's cgroupfs layout does not name the runtime: containerd's k8s.io is asked.
      deepStrictEqual(
        await meta.labels({ runtime: "kubernetes", id: CRI_ID, certain: true }),
        {
          __meta_containerd_container_id: CRI_ID,
          __meta_containerd_container_name: "app",
          __meta_containerd_pod_name: "web-7f9c6d5b4-x2k8p",
        },
      );
      // A plain /<namespace>/<id> cgroup is believed only when containerd knows the container.
      deepStrictEqual(
        await meta.labels({
          runtime: "containerd",
          id: "redis-test",
          namespace: "default",
          certain: false,
        }),
        {
          __meta_containerd_container_id: "redis-test",
          __meta_containerd_container_name: "redis-test",
        },
      );
      deepStrictEqual(
        await meta.labels({
          runtime: "containerd",
          id: "system",
          namespace: "user",
          certain: false,
        }),
        {},
      );
      deepStrictEqual(await meta.labels({ runtime: "buildkit", id: "hwnfgtpx", certain: true }), {
        __meta_docker_build_kit_container_id: "hwnfgtpx",
      });
      deepStrictEqual(await meta.labels({ runtime: "lxc", id: "web01", certain: true }), {
        __meta_lxc_container_id: "web01",
      });
    } finally {
      dockerClient.close();
      await docker.shutdown();
      containerd.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "ContainerMetadata: a missing runtime socket leaves API labels absent, counted, no retry storm",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dockerClient = new DockerClient("/nonexistent/docker.sock", 500);
    const meta = new ContainerMetadata({
      docker: dockerClient,
      containerd: new ContainerdClient("/nonexistent/containerd.sock", 500),
      backoffMs: 60_000,
    });
    try {
      const dockerBefore = await errorsOf("docker");
      const containerdBefore = await errorsOf("containerd");
      // A guessed /<namespace>/<id> container is not worth a warning when containerd is absent.
      deepStrictEqual(
        await meta.labels({
          runtime: "containerd",
          id: "x",
          namespace: "process_api",
          certain: false,
        }),
        {},
      );
      equal(await errorsOf("containerd"), containerdBefore);
      for (let i = 0; i < 3; i++) {
        deepStrictEqual(await meta.labels({ runtime: "docker", id: ID, certain: true }), {
          __meta_docker_container_id: ID,
        });
        deepStrictEqual(
          await meta.labels({
            runtime: "containerd",
            id: CRI_ID,
            namespace: "k8s.io",
            certain: true,
          }),
          { __meta_containerd_container_id: CRI_ID },
        );
      }
      // One failure each: later calls are skipped during the back-off.
      equal(await errorsOf("docker"), dockerBefore + 1);
      equal(await errorsOf("containerd"), containerdBefore + 1);
    } finally {
      dockerClient.close();
    }
  },
});

Deno.test("ContainerMetadata without caching asks the engine every time", {
  sanitizeResources: false,
}, async () => {
  const dir = await Deno.makeTempDir();
  const requests: string[] = [];
  const docker = dockerServer(`${dir}/docker.sock`, requests);
  const dockerClient = new DockerClient(`${dir}/docker.sock`);
  const meta = new ContainerMetadata({ docker: dockerClient, cache: false });
  try {
    await meta.labels({ runtime: "docker", id: ID, certain: true });
    await meta.labels({ runtime: "docker", id: ID, certain: true });
    equal(requests.length, 2);
    ok(requests.every((r) => r === `/containers/${ID}/json`));
  } finally {
    dockerClient.close();
    await docker.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
