// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, ok } from "node:assert/strict";
import { parseFlags } from "../cli/mod.ts";
import { agentCommand } from "./launch.ts";
import { type HostFacts, netEntry, permissionFlags, permissionScope } from "./scope.ts";

function facts(over: Partial<HostFacts> = {}): HostFacts {
  const files: Record<string, string> = {};
  return {
    execPath: "/opt/deno/deno",
    appDir: "/opt/agent",
    env: {},
    exists: (p) => p === "/usr/lib/x86_64-linux-gnu/libbpf.so.1" || p.endsWith("libc.so.6"),
    realPath: (p) => p === "/var/run/docker.sock" ? "/run/docker.sock" : p,
    readFile: (p) => files[p],
    ...over,
  };
}

function flagsOf(args: string[], env: Record<string, string> = {}) {
  const r = parseFlags(args, env, { hostname: "node-a" });
  if (r.kind !== "run") throw new Error("not a run");
  return r.flags;
}

Deno.test("permissionScope() of the defaults: the HTTP address, libraries, /tmp and the sockets", () => {
  const s = permissionScope(flagsOf([]), facts());
  deepStrictEqual(s.net, ["127.0.0.1:7071"]);
  ok(s.ffi.includes("/usr/lib/x86_64-linux-gnu/libbpf.so.1"), s.ffi.join());
  ok(!s.ffi.includes("/usr/lib64/libbpf.so.1"), "only libraries that exist");
  ok(s.read.includes("/opt/agent") && s.read.includes("/opt/deno/deno"));
  deepStrictEqual(s.write.includes("/tmp"), true); // --debuginfo-temp-dir
  // A unix socket needs read and write, under its name and its resolved path.
  for (const p of ["/var/run/docker.sock", "/run/docker.sock"]) {
    ok(s.read.includes(p) && s.write.includes(p), p);
  }
  deepStrictEqual(s.run, ["/opt/deno/deno"]);
  ok(!s.read.includes("/") && !s.write.includes("/"));
});

Deno.test("permissionScope() follows the flags that point at files and addresses", () => {
  const s = permissionScope(
    flagsOf([
      "--http-address=:7072",
      "--remote-store-address=parca.example.com:443",
      "--remote-store-bearer-token-file=/etc/parca/token",
      "--otlp-address=collector:4317",
      "--local-store-directory=/var/lib/parca-agent",
      "--debuginfo-temp-dir=/var/tmp/pa",
      "--config-path=/etc/parca-agent/config.yaml",
      "--metadata-container-runtime-socket-path=/run/podman/podman.sock",
    ]),
    facts({ env: { PROFILER_ALLOW_NET: "bucket.example.com:443" } }),
  );
  deepStrictEqual(s.net, [
    "0.0.0.0:7072",
    "bucket.example.com:443",
    "collector:4317",
    "parca.example.com:443",
  ]);
  for (const p of ["/etc/parca/token", "/etc/parca-agent", "/var/lib/parca-agent", "/var/tmp/pa"]) {
    ok(s.read.includes(p), p);
  }
  deepStrictEqual(s.write.filter((p) => !p.endsWith(".sock")), [
    "/var/lib/parca-agent",
    "/var/tmp/pa",
  ]);
  ok(s.write.includes("/run/podman/podman.sock"));
  ok(!s.write.includes("/tmp"));
});

Deno.test("permissionScope() allows the Kubernetes API server and the files its config names", () => {
  const inCluster = permissionScope(
    flagsOf([]),
    facts({
      env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" },
      readFile: (p) => p.endsWith("/token") ? "tok" : undefined,
    }),
  );
  ok(inCluster.net.includes("10.96.0.1:443"), inCluster.net.join());
  ok(inCluster.read.includes("/var/run/secrets/kubernetes.io/serviceaccount"));

  const kubeconfig = [
    "apiVersion: v1",
    "clusters: [{name: c, cluster: {server: 'https://k8s.example.com:6443', certificate-authority: /etc/k/ca.pem}}]",
    "users: [{name: u, user: {token: t}}]",
    "contexts: [{name: x, context: {cluster: c, user: u}}]",
    "current-context: x",
  ].join("\n");
  const files: Record<string, string> = { "/etc/k/config": kubeconfig, "/etc/k/ca.pem": "PEM" };
  const s = permissionScope(
    flagsOf([]),
    facts({ env: { KUBECONFIG: "/etc/k/config" }, readFile: (p) => files[p] }),
  );
  ok(s.net.includes("k8s.example.com:6443"), s.net.join());
  ok(s.read.includes("/etc/k/config") && s.read.includes("/etc/k/ca.pem"), s.read.join());
});

Deno.test("netEntry() turns listen addresses into --allow-net entries", () => {
  deepStrictEqual(netEntry("127.0.0.1:7071"), "127.0.0.1:7071");
  deepStrictEqual(netEntry(":7071"), "0.0.0.0:7071");
  deepStrictEqual(netEntry("127.0.0.1:0"), "127.0.0.1");
  deepStrictEqual(netEntry("[::1]:7071"), "[::1]:7071");
});

Deno.test("permissionFlags() writes one flag per list, with commas doubled", () => {
  const flags = permissionFlags({
    read: ["/a", "/b,c"],
    write: [],
    net: ["h:1"],
    ffi: ["/lib/libc.so.6"],
    env: ["X"],
    run: [],
    sys: [],
  });
  deepStrictEqual(flags, [
    "--no-prompt",
    "--allow-read=/a,/b,,c",
    "--allow-net=h:1",
    "--allow-ffi",
    "--allow-env=X",
  ]);
});

Deno.test("agentCommand() runs the entry scoped, never with --allow-all, also for bad flags", () => {
  const opts = {
    entry: "/opt/agent/main.ts",
    appDir: "/opt/agent",
    config: "/opt/agent/deno.json",
  };
  for (const args of [["--local-store-directory=/x"], ["--no-such-flag"], ["--help"]]) {
    const c = agentCommand(args, opts, facts());
    ok(!c.args.includes("--allow-all") && !c.args.some((a) => a === "-A"));
    const entry = c.args.indexOf("/opt/agent/main.ts");
    deepStrictEqual(c.args.slice(entry + 1), args);
    ok(c.args.slice(0, entry).every((a) => a.startsWith("--") || a === "run"));
  }
  ok(agentCommand(["--local-store-directory=/x"], opts, facts()).scope.write.includes("/x"));
});

Deno.test("agentCommand() runs the agent with V8's --optimize-for-size, as a Deno option", () => {
  // With it V8 keeps the main isolate's young generation at ~2 MiB instead of growing it under
  // the start-up table loads (the launched agent, with MALLOC_ARENA_MAX too, peaked at 0.82x of a
  // plain `deno run main.ts` on the 50-binary host: docs/benchmarks.md, "Start-up peak as
  // launched"). After the entry it would be one of the agent's own flags.
  const c = agentCommand([], { entry: "/opt/agent/main.ts", appDir: "/opt/agent" }, facts());
  const entry = c.args.indexOf("/opt/agent/main.ts");
  const v8 = c.args.slice(0, entry).filter((a) => a.startsWith("--v8-flags="))
    .flatMap((a) => a.slice("--v8-flags=".length).split(","));
  ok(v8.includes("--optimize-for-size"), c.args.join(" "));
});
