// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, equal, notEqual, ok } from "node:assert/strict";
import type { ProcessInfo } from "../process/mod.ts";
import { ContainerMetadata } from "./containers.ts";
import type { ExecutableFacts, ExecutableInspector } from "./executable.ts";
import { KubernetesStore } from "./kubernetes.ts";
import { LabelManager, type LabelManagerOptions, rulesReadThreadLabels } from "./manager.ts";
import { compileRelabelConfig, type RelabelConfigInput } from "./relabel.ts";

const CID = "c".repeat(64);

function info(pid: number, over: Partial<ProcessInfo> = {}): ProcessInfo {
  return {
    pid,
    comm: "nginx",
    exe: "/usr/sbin/nginx",
    cmdline: ["nginx:", "worker", "process"],
    ppid: 1,
    mappings: [],
    startTimeTicks: 12345,
    execMappings: [],
    ...over,
  };
}

/** A fake procfs with one process per entry: pid → cgroup file. */
async function fakeProc(cgroups: Record<number, string>): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (const [pid, text] of Object.entries(cgroups)) {
    await Deno.mkdir(`${dir}/${pid}`);
    await Deno.writeTextFile(`${dir}/${pid}/cgroup`, text);
  }
  return dir;
}

const FACTS: ExecutableFacts = {
  fileId: "0123456789abcdef0123456789abcdef",
  buildId: "deadbeef",
  compiler: "GCC: (Debian 12.2.0-14) 12.2.0",
  static: false,
  stripped: true,
};

function manager(procRoot: string, over: Partial<LabelManagerOptions> = {}): LabelManager {
  return new LabelManager({
    node: "node-a",
    externalLabels: [["region", "eu-1"]],
    profileName: "parca_agent_cpu",
    agentRevision: "0123456789ab",
    system: { kernelRelease: "6.18.0-test", kernelMachine: "x86_64" },
    procRoot,
    ...over,
  });
}

const rules = (...r: RelabelConfigInput[]) => r.map(compileRelabelConfig);

Deno.test("LabelManager gives every provider's labels before relabeling", async () => {
  const proc = await fakeProc({ 100: "0::/system.slice/nginx.service\n" });
  try {
    const m = manager(proc);
    const p = await m.process(100, info(100));
    deepStrictEqual(p.raw, {
      __meta_agent_revision: "0123456789ab",
      __meta_process_cgroup: "/system.slice/nginx.service",
      __meta_process_cmdline: "nginx: worker process",
      __meta_process_executable_name: "nginx",
      __meta_process_pid: "100",
      __meta_process_ppid: "1",
      __meta_system_kernel_machine: "x86_64",
      __meta_system_kernel_release: "6.18.0-test",
      __name__: "parca_agent_cpu",
      comm: "nginx",
      node: "node-a",
      pid: "100",
      region: "eu-1",
    });
    // No rules: every __ label but __name__ is dropped.
    deepStrictEqual(p.thread(100, "nginx")?.labels, {
      __name__: "parca_agent_cpu",
      comm: "nginx",
      node: "node-a",
      pid: "100",
      region: "eu-1",
    });
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

Deno.test("LabelManager: rules copy __meta_ labels, keep by comm, and drop series", async () => {
  const proc = await fakeProc({ 1: "0::/init.scope\n", 2: "0::/init.scope\n" });
  try {
    const m = manager(proc, {
      relabelConfigs: rules(
        { source_labels: ["__meta_process_executable_name"], target_label: "exe" },
        { source_labels: ["__meta_system_kernel_machine"], target_label: "arch" },
        { source_labels: ["comm"], regex: "nginx|postgres", action: "keep" },
      ),
      executableInspector: { inspect: () => FACTS },
    });
    const kept = await m.labels(1, info(1), 1, "nginx");
    deepStrictEqual(kept?.labels, {
      __name__: "parca_agent_cpu",
      arch: "x86_64",
      comm: "nginx",
      exe: "nginx",
      node: "node-a",
      pid: "1",
      region: "eu-1",
    });
    equal(await m.labels(2, info(2, { comm: "bash", exe: "/bin/bash" }), 2, "bash"), undefined);
    // A process that exited before it was read keeps the comm BPF saw.
    equal(
      (await m.process(999, undefined, "postgres")).thread(999, "postgres")?.labels.comm,
      "postgres",
    );
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

Deno.test("LabelManager: threads share a series unless a rule keeps a thread label", async () => {
  const proc = await fakeProc({ 7: "0::/init.scope\n" });
  try {
    const m = manager(proc);
    const p = await m.process(7, info(7));
    equal(p.thread(7, "nginx")!.key, p.thread(8, "worker")!.key);
    m.setRelabelConfigs(rules({ source_labels: ["__meta_thread_comm"], target_label: "thread" }));
    const q = await m.process(7, info(7));
    const main = q.thread(7, "nginx")!;
    const worker = q.thread(8, "worker")!;
    notEqual(main.key, worker.key);
    equal(worker.labels.thread, "worker");
    // Dropping some threads: the rest stay.
    m.setRelabelConfigs(rules({ source_labels: ["__meta_thread_id"], regex: "8", action: "drop" }));
    const r = await m.process(7, info(7));
    equal(r.thread(8, "worker"), undefined);
    equal(r.thread(7, "nginx")?.labels.comm, "nginx");
    equal(r.thread(9, "worker")?.key, r.thread(7, "nginx")?.key);
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

Deno.test("rulesReadThreadLabels() sees reads through sources, *equal targets and labelmap", () => {
  equal(rulesReadThreadLabels(rules({ source_labels: ["comm"], target_label: "x" })), false);
  equal(rulesReadThreadLabels(rules({ regex: "__meta_thread_.*", action: "labeldrop" })), false);
  equal(
    rulesReadThreadLabels(rules({ source_labels: ["__meta_thread_id"], target_label: "t" })),
    true,
  );
  equal(
    rulesReadThreadLabels(
      rules({ source_labels: ["comm"], target_label: "__meta_thread_comm", action: "keepequal" }),
    ),
    true,
  );
  equal(
    rulesReadThreadLabels(
      rules({ regex: "__meta_(thread_.*)", replacement: "$1", action: "labelmap" }),
    ),
    true,
  );
  equal(
    rulesReadThreadLabels(
      rules({ regex: "__meta_(process_.*)", replacement: "$1", action: "labelmap" }),
    ),
    false,
  );
});

Deno.test("LabelManager recomputes after exec, a Kubernetes change or a config reload", async () => {
  const proc = await fakeProc({
    5: `0::/kubepods/besteffort/pod4c9f3e47-a4a4-4d8a-9b5c-2f6f0c1e1a11/${CID}\n`,
  });
  try {
    const store = new KubernetesStore();
    const m = manager(proc, {
      kubernetes: store,
      relabelConfigs: rules({ source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" }),
    });
    equal((await m.labels(5, info(5), 5, "nginx"))?.labels.pod, undefined);
    store.upsertPod({
      metadata: { name: "web-1", namespace: "shop", uid: "4c9f3e47-a4a4-4d8a-9b5c-2f6f0c1e1a11" },
      spec: { containers: [{ name: "app", image: "web:1" }] },
      status: { containerStatuses: [{ name: "app", containerID: `containerd://${CID}` }] },
    });
    equal((await m.labels(5, info(5), 5, "nginx"))?.labels.pod, "web-1");
    // exec: same pid, new executable and comm.
    const after = await m.process(5, info(5, { comm: "python3", exe: "/usr/bin/python3.11" }));
    equal(after.raw.comm, "python3");
    equal(after.raw.__meta_process_executable_name, "python3.11");
    m.setRelabelConfigs(
      rules({ source_labels: ["__meta_kubernetes_namespace"], target_label: "ns" }),
    );
    const reloaded = await m.labels(5, info(5), 5, "nginx");
    equal(reloaded?.labels.ns, "shop");
    equal(reloaded?.labels.pod, undefined);
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

Deno.test("LabelManager caches per process; --metadata-disable-caching reads every time", async () => {
  const proc = await fakeProc({ 3: "0::/a.service\n" });
  try {
    let inspected = 0;
    const inspector: ExecutableInspector = {
      inspect: () => {
        inspected++;
        return FACTS;
      },
    };
    // The executable inspector is only reached through /proc/PID/exe, which the fake procfs
    // lacks: count container look-ups instead, and cgroup reads through the file itself.
    let lookups = 0;
    const containers = new ContainerMetadata({ cache: false });
    const origLabels = containers.labels.bind(containers);
    containers.labels = (ref) => {
      lookups++;
      return origLabels(ref);
    };
    await Deno.writeTextFile(`${proc}/3/cgroup`, `0::/system.slice/docker-${CID}.scope\n`);
    const cached = manager(proc, { containers, executableInspector: inspector });
    await cached.labels(3, info(3), 3, "nginx");
    await cached.labels(3, info(3), 3, "nginx");
    equal(lookups, 1);
    const uncached = manager(proc, {
      containers,
      executableInspector: inspector,
      disableCaching: true,
    });
    await uncached.labels(3, info(3), 3, "nginx");
    await uncached.labels(3, info(3), 3, "nginx");
    equal(lookups, 3);
    // The cgroup file is read again without caching: a moved process gets its new cgroup.
    await Deno.writeTextFile(`${proc}/3/cgroup`, "0::/b.service\n");
    equal((await uncached.process(3, info(3))).raw.__meta_process_cgroup, "/b.service");
    equal(
      (await cached.process(3, info(3))).raw.__meta_process_cgroup,
      `/system.slice/docker-${CID}.scope`,
    );
    ok((await cached.process(3, info(3))).raw.__meta_docker_container_id === CID);
    equal(inspected, 0);
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

// Issue 9: the agent profiles itself, and `--remote-store-bearer-token=SECRET` in its command line
// showed on /?labels=raw (and reached any rule that copied __meta_process_cmdline).
Deno.test("LabelManager redacts the agent's secrets from every label, raw ones included", async () => {
  const proc = await fakeProc({ 4242: "0::/a.service\n", 4243: "0::/b.service\n" });
  try {
    const m = manager(proc, {
      secrets: ["s3cret-token"],
      externalLabels: [["team", "x-s3cret-token-y"]],
      relabelConfigs: rules({ source_labels: ["__meta_process_cmdline"], target_label: "cmd" }),
      executableInspector: { inspect: () => FACTS },
    });
    const p = await m.process(
      4242,
      info(4242, {
        cmdline: ["agent", "--remote-store-bearer-token=s3cret-token", "--other", "s3cret-token"],
      }),
    );
    const all = JSON.stringify([p.raw, p.thread(4242, "main")]);
    ok(!all.includes("s3cret-token"), all);
    ok(all.includes("--remote-store-bearer-token=<redacted> --other <redacted>"), all);
    ok(all.includes(`"team":"x-<redacted>-y"`), all);
    // Another agent's token flag is redacted too, whatever its value.
    const other = await m.process(
      4243,
      info(4243, { cmdline: ["a", "--remote-store-bearer-token", "zzz"] }),
    );
    ok(JSON.stringify(other.raw).includes("--remote-store-bearer-token <redacted>"));
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});
