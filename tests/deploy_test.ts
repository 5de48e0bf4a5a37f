// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// The deployment files, checked by the tools that will read them: the Kubernetes manifests by
// strict decoding against k8s.io/api (scripts/k8s-validate.sh) plus what they must say, the
// systemd unit by systemd-analyze, and the release tarball by running it from a clean directory
// outside the repository (as root, with real BPF). `deno task compile` where DENORT_BIN is set.

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { parseFlags } from "../src/cli/mod.ts";
import { parseConfig } from "../src/labels/mod.ts";
import { decodeProfile } from "../src/pprof/mod.ts";
import { freePort } from "./_lib/agent.ts";
import { buildProgram, killAll, startProgram } from "./_lib/programs.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const isRoot = Deno.uid() === 0;

async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
) {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd ?? ROOT,
    env: opts.env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const d = new TextDecoder();
  return { ok: out.success, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

// deno-lint-ignore no-explicit-any
type Obj = { file: string; kind: string; name: string; object: any };

async function validate(files: string[]): Promise<{ ok: boolean; objects: Obj[]; stderr: string }> {
  const r = await run("bash", ["scripts/k8s-validate.sh", ...files]);
  const objects = r.stdout.split("\n").filter((l) => l).map((l) => JSON.parse(l) as Obj);
  return { ok: r.ok, objects, stderr: r.stderr };
}

const manifests = () =>
  [...Deno.readDirSync(`${ROOT}deploy/kubernetes`)].filter((e) => e.name.endsWith(".yaml"))
    .map((e) => `deploy/kubernetes/${e.name}`).sort();

Deno.test("deploy/kubernetes decodes strictly against k8s.io/api and says what the agent needs", async () => {
  const { ok: valid, objects, stderr } = await validate(manifests());
  ok(valid, stderr);
  const one = (kind: string) => {
    const all = objects.filter((o) => o.kind === kind);
    equal(all.length, 1, kind);
    return all[0].object;
  };
  const ds = one("DaemonSet");
  const pod = ds.spec.template.spec;
  equal(pod.hostPID, true);
  const c = pod.containers[0];
  const sc = c.securityContext;
  equal(sc.privileged, false);
  equal(sc.readOnlyRootFilesystem, true);
  deepStrictEqual(sc.capabilities.drop, ["ALL"]);
  // The list of docs/deployment.md that tests/e2e_capabilities_test.ts confirms, nothing more.
  deepStrictEqual([...sc.capabilities.add].sort(), [
    "BPF",
    "CHECKPOINT_RESTORE",
    "DAC_READ_SEARCH",
    "PERFMON",
    "SYSLOG",
    "SYS_PTRACE",
    "SYS_RESOURCE",
  ]);
  // The node name comes from the downward API and reaches --node.
  const nodeEnv = c.env.find((e: { name: string }) => e.name === "NODE_NAME");
  equal(nodeEnv.valueFrom.fieldRef.fieldPath, "spec.nodeName");
  const args: string[] = c.args.map((a: string) => a.replace("$(NODE_NAME)", "node-a"));
  const parsed = parseFlags(args, {}, { hostname: "x" });
  equal(parsed.kind, "run");
  if (parsed.kind !== "run") return;
  equal(parsed.flags.node, "node-a");
  ok(c.resources.requests.memory && c.resources.requests.cpu && c.resources.limits.memory);
  // The relabel config: mounted where --config-path points, and valid for the agent.
  const cm = one("ConfigMap");
  const mount = c.volumeMounts.find((m: { mountPath: string }) =>
    parsed.flags.configPath.startsWith(m.mountPath + "/")
  );
  ok(mount, "a mount holds --config-path");
  const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
  equal(volume.configMap.name, cm.metadata.name);
  const key = parsed.flags.configPath.slice(mount.mountPath.length + 1);
  ok(parseConfig(cm.data[key]).relabelConfigs.length > 0);
  // /tmp is writable for --debuginfo-temp-dir on the read-only root.
  ok(
    c.volumeMounts.some((m: { mountPath: string }) =>
      m.mountPath === parsed.flags.debuginfoTempDir
    ),
  );
  // RBAC: the pod's service account may get, list and watch pods and nodes, nothing more.
  const sa = one("ServiceAccount");
  equal(pod.serviceAccountName, sa.metadata.name);
  const role = one("ClusterRole");
  deepStrictEqual(role.rules, [{
    apiGroups: [""],
    resources: ["pods", "nodes"],
    verbs: ["get", "list", "watch"],
  }]);
  const binding = one("ClusterRoleBinding");
  equal(binding.roleRef.name, role.metadata.name);
  deepStrictEqual(binding.subjects, [{
    kind: "ServiceAccount",
    name: sa.metadata.name,
    namespace: sa.metadata.namespace,
  }]);
  // Scraping: the Service selects the pods and the annotations name the HTTP port.
  const svc = one("Service");
  for (const [k, v] of Object.entries(svc.spec.selector)) {
    equal(ds.spec.template.metadata.labels[k], v);
  }
  const port = c.ports.find((p: { name: string }) => p.name === svc.spec.ports[0].targetPort);
  equal(String(port.containerPort), ds.spec.template.metadata.annotations["prometheus.io/port"]);
  ok(parsed.flags.httpAddress.endsWith(`:${port.containerPort}`));
});

Deno.test("the Kubernetes validator rejects unknown fields and wrong types", async () => {
  const dir = await Deno.makeTempDir({ prefix: "deploy_test_" });
  try {
    const ds = Deno.readTextFileSync(`${ROOT}deploy/kubernetes/daemonset.yaml`);
    Deno.writeTextFileSync(`${dir}/typo.yaml`, ds.replace("hostPID: true", "hostPid: true"));
    Deno.writeTextFileSync(`${dir}/type.yaml`, ds.replace("hostPID: true", 'hostPID: "yes"'));
    for (const f of ["typo", "type"]) {
      const r = await validate([`${dir}/${f}.yaml`]);
      ok(!r.ok, f);
      ok(/hostPid|hostPID/.test(r.stderr), r.stderr);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function buildRelease(out: string): Promise<string> {
  const r = await run("bash", ["scripts/release.sh", out], { env: { DENO: Deno.execPath() } });
  ok(r.ok, r.stderr);
  return r.stdout.trim();
}

Deno.test("systemd-analyze verifies deploy/systemd/parca-agent.service against the release", async () => {
  const dir = await Deno.makeTempDir({ prefix: "deploy_systemd_" });
  try {
    const tarball = await buildRelease(`${dir}/dist`);
    ok((await run("tar", ["-C", dir, "-xzf", tarball])).ok);
    const name = tarball.split("/").pop()!.replace(/\.tar\.gz$/, "");
    // The unit as installed, with ExecStart where this test unpacked the release.
    const unit = Deno.readTextFileSync(`${ROOT}deploy/systemd/parca-agent.service`)
      .replaceAll("/opt/parca-agent", `${dir}/${name}`);
    Deno.writeTextFileSync(`${dir}/parca-agent.service`, unit);
    const r = await run("systemd-analyze", ["verify", `${dir}/parca-agent.service`]);
    ok(r.ok, r.stderr);
    equal(r.stderr.trim(), "", "no warning either");
    for (
      const key of [
        "CapabilityBoundingSet=",
        "ProtectSystem=strict",
        "ProtectHome=",
        "NoNewPrivileges=yes",
      ]
    ) {
      ok(unit.includes(key), key);
    }
    const sec = await run("systemd-analyze", [
      "security",
      "--offline=yes",
      `${dir}/parca-agent.service`,
    ]);
    ok(
      /Overall exposure level for parca-agent.service: [0-4]\.\d/.test(sec.stdout),
      sec.stdout.slice(-300),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "the release tarball runs from a clean directory outside the repository",
  ignore: !isRoot,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "deploy_release_" });
    try {
      const tarball = await buildRelease(`${dir}/dist`);
      const clean = `${dir}/clean`;
      Deno.mkdirSync(clean);
      ok((await run("tar", ["-C", clean, "-xzf", tarball])).ok);
      Deno.removeSync(`${dir}/dist`, { recursive: true });
      const name = tarball.split("/").pop()!.replace(/\.tar\.gz$/, "");
      const bin = `${clean}/${name}/bin/parca-agent`;
      const env = { DENO: Deno.execPath(), PATH: "/usr/bin:/bin", DENO_DIR: `${dir}/deno-dir` };
      const version = await run(bin, ["--version"], { cwd: clean, env });
      ok(
        version.ok && /^parca-agent \S+ \(revision [0-9a-f]{12}/.test(version.stdout),
        version.stdout + version.stderr,
      );
      // A program with symbols to profile, and to have named by the release's symbolizer worker.
      const chain = await buildProgram("cpu_chain.c", `${dir}/cpu_chain`, ["-O2", "-g"]);
      const busy = startProgram(chain, ["120"]);
      const port = freePort();
      const child = new Deno.Command(bin, {
        args: [
          `--http-address=127.0.0.1:${port}`,
          "--profiling-duration=1s",
          `--local-store-directory=${dir}/store`,
          `--debuginfo-temp-dir=${dir}`,
        ],
        cwd: clean,
        env,
        stdout: "null",
        stderr: "piped",
        stdin: "null",
      }).spawn();
      let log = "";
      const pump = (async () => {
        for await (const c of child.stderr) log += new TextDecoder().decode(c);
      })();
      try {
        const deadline = Date.now() + 60_000;
        let stored = 0;
        while (Date.now() < deadline && stored === 0) {
          await new Promise((r) => setTimeout(r, 500));
          try {
            stored = [...Deno.readDirSync(`${dir}/store`)].length;
          } catch {
            // not created yet
          }
        }
        ok(stored > 0, log);
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        ok(
          /parca_agent_unwind_tables_built_total [1-9]/.test(metrics) || log.includes("unwind"),
          log,
        );
        // The flame graph UI's static files come with the release (node_modules, src/ui/assets).
        for (const asset of ["d3.min.js", "d3-flamegraph.min.js", "d3-flamegraph.css", "ui.js"]) {
          const res = await fetch(`http://127.0.0.1:${port}/ui/assets/${asset}`);
          const body = await res.text();
          equal(res.status, 200, `${asset}: ${body.slice(0, 200)}`);
          ok(body.length > 100, asset);
        }
        const ui = await fetch(`http://127.0.0.1:${port}/ui`);
        equal(ui.status, 200, await ui.text());
        // /query?symbolize=1 names the program's functions: the symbolizer worker is bundled.
        const sel = encodeURIComponent(`{pid="${busy.pid}"}`);
        let names: string[] = [];
        for (let i = 0; i < 60 && !names.includes("chain_c"); i++) {
          const res = await fetch(`http://127.0.0.1:${port}/query?query=${sel}&symbolize=1`);
          if (res.status === 200) {
            names = decodeProfile(new Uint8Array(await res.arrayBuffer())).stringTable;
          } else {
            await res.body?.cancel();
            await new Promise((r) => setTimeout(r, 1000));
          }
        }
        ok(names.includes("chain_c"), `no chain_c among ${names.length} strings; ${log}`);
        ok(!/NotCapable|Requires .* access/.test(log), log);
      } finally {
        await killAll([busy]);
        child.kill("SIGTERM");
        equal((await child.status).code, 0, log);
        await pump;
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const denort = Deno.env.get("DENORT_BIN");
if (!denort) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error(
    "deploy_test: `deno task compile` is not tested: DENORT_BIN is not set (deno compile needs a denort runtime, which these machines cannot download)",
  );
}

Deno.test({
  name: "deno task compile builds a single binary that runs (needs DENORT_BIN)",
  ignore: !denort || !isRoot,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const r = await run(Deno.execPath(), ["task", "--quiet", "compile"], {
      env: { DENORT_BIN: denort! },
    });
    ok(r.ok, r.stderr);
    const v = await run(`${ROOT}dist/parca-agent`, ["--version"]);
    ok(v.ok && v.stdout.startsWith("parca-agent "), v.stdout + v.stderr);
  },
});
