// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// End-to-end, as root, with the real BPF program: a relabel config copies
// __meta_process_executable_name into `exe` and __meta_system_kernel_machine into `arch`, and
// keeps only two test programs by `comm`. /query, the local store and the status page must then
// show exactly those two programs with the right labels and no __meta_ label; a config change
// on disk must take effect without a restart. A second test sends the profiles to a real Parca
// server and asks it which label values it stored.

import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import { freePort, runAgentOnce, startAgent } from "./_lib/agent.ts";
import { startParca } from "./_lib/parca.ts";
import { buildProgram, startProgram } from "./_lib/programs.ts";

const isRoot = Deno.uid() === 0;
const ignore = !isRoot;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_labels_test: the BPF part is ignored, it needs root to load BPF programs");
}

const KEEP_A = "lbl_keep_a";
const KEEP_B = "lbl_keep_b";
const DROP_C = "lbl_drop_c";

const configText = (keep: string) =>
  `# e2e_labels_test
relabel_configs:
  - source_labels: [__meta_process_executable_name]
    target_label: exe
  - source_labels: [__meta_system_kernel_machine]
    target_label: arch
  - source_labels: [comm]
    regex: ${keep}
    action: keep
`;

const ENTITIES: Record<string, string> = {
  "&amp;": "&",
  "&lt;": "<",
  "&gt;": ">",
  "&quot;": '"',
  "&#39;": "'",
};

/** The label chips of a /query?debug=1 page, unescaped. */
function chips(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<span class="chip">([^=<]+)="([^"]*)"<\/span>/g)) {
    out[m[1]] = m[2].replace(/&(?:amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e]);
  }
  return out;
}

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function machine(): string {
  try {
    return Deno.readTextFileSync("/proc/sys/kernel/arch").trim();
  } catch {
    return new TextDecoder().decode(new Deno.Command("uname", { args: ["-m"] }).outputSync().stdout)
      .trim();
  }
}

Deno.test("agent refuses a bad config file at start with one line naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/bad.yaml`;
    await Deno.writeTextFile(
      path,
      "relabel_configs:\n  - source_labels: [comm]\n    action: kepp\n",
    );
    const r = await runAgentOnce([`--config-path=${path}`, "--http-address=127.0.0.1:0"]);
    equal(r.code, 1);
    const lines = r.stderr.trim().split("\n").filter((l) => /level=(ERROR|error)|ERR/i.test(l));
    equal(lines.length, 1, r.stderr);
    match(
      lines[0],
      new RegExp(
        `Cannot load config file \\\\?"${path}\\\\?": line 3: relabel_configs\\[0\\]: unknown relabel action \\\\?"kepp\\\\?"`,
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "relabeling keeps two programs by comm, adds exe and arch, and leaks no __meta_ label",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "agent-labels-e2e-" });
    const store = `${dir}/store`;
    const config = `${dir}/agent.yaml`;
    await Deno.writeTextFile(config, configText(`${KEEP_A}|${KEEP_B}`));
    // One build, three names: the comm of each process is its file's base name.
    const built = await buildProgram("cpu_chain.c", `${dir}/${KEEP_A}`, ["-O1"]);
    await Deno.copyFile(built, `${dir}/${KEEP_B}`);
    await Deno.copyFile(built, `${dir}/${DROP_C}`);
    await Deno.chmod(`${dir}/${KEEP_B}`, 0o755);
    await Deno.chmod(`${dir}/${DROP_C}`, 0o755);
    const progs = [KEEP_A, KEEP_B, DROP_C].map((n) => startProgram(`${dir}/${n}`, ["60"]));
    const [a, b, c] = progs;
    const agent = await startAgent([
      `--config-path=${config}`,
      `--local-store-directory=${store}`,
      "--node=e2e-labels-node",
      "--metadata-external-labels=suite=labels-e2e",
      "--profiling-duration=1s",
      "--http-raw-labels",
    ]);
    const arch = machine();
    try {
      await t.step(
        "/query shows the kept programs with exe, arch, node, the external label",
        async () => {
          for (const [comm, pid] of [[KEEP_A, a.pid], [KEEP_B, b.pid]] as const) {
            // Each request waits for the next matching profile for one window plus a second; the
            // first windows may be slow while unwind tables and labels are first computed.
            const labels = await waitFor(`a profile of ${comm}`, async () => {
              const res = await fetch(
                `${agent.url}/query?debug=1&query=${encodeURIComponent(`{comm="${comm}"}`)}`,
              );
              const body = await res.text();
              return res.status === 200 ? chips(body) : undefined;
            }, 20_000);
            deepStrictEqual(labels, {
              __name__: "parca_agent_cpu",
              arch,
              comm,
              exe: comm,
              node: "e2e-labels-node",
              pid: String(pid),
              suite: "labels-e2e",
            });
          }
        },
      );

      await t.step("a program the config does not keep is never published", async () => {
        const res = await fetch(
          `${agent.url}/query?query=${encodeURIComponent(`{comm="${DROP_C}"}`)}`,
        );
        equal(res.status, 404, await res.text());
        const any = await fetch(
          `${agent.url}/query?debug=1&query=${encodeURIComponent('{comm!~"lbl_keep_.*"}')}`,
        );
        equal(any.status, 404, "only the two kept programs are published");
        await any.body?.cancel();
      });

      await t.step("the local store holds profiles of exactly the two kept programs", async () => {
        const pids = await waitFor("profiles of both kept programs", () => {
          const seen = new Set<number>();
          for (const e of Deno.readDirSync(store)) {
            const m = /^(\d+)_parca_agent_cpu_\d+\.pb\.gz$/.exec(e.name);
            if (m) seen.add(Number(m[1]));
          }
          return seen.has(a.pid) && seen.has(b.pid) ? seen : undefined;
        }, 10_000);
        deepStrictEqual([...pids].sort(), [a.pid, b.pid].sort());
      });

      await t.step(
        "the status page shows the dropped program, and raw labels on request",
        async () => {
          const page = await (await fetch(`${agent.url}/`)).text();
          // The config text further down the page names __meta_ labels; the table must not.
          const table = page.slice(
            page.indexOf("<h2>Processes"),
            page.indexOf("<h2>Configuration"),
          );
          ok(table.includes("dropped by config"), "a series dropped by config is listed");
          ok(!table.includes("__meta_"), "final labels only");
          const raw = await (await fetch(`${agent.url}/?labels=raw`)).text();
          ok(
            raw.includes(`__meta_process_executable_name="${DROP_C}"`),
            "raw labels of the dropped one",
          );
          ok(raw.includes(`__meta_process_pid="${c.pid}"`));
          ok(raw.includes(`__meta_system_kernel_machine="${arch}"`));
          ok(page.includes("e2e_labels_test"), "the config text is on the page");
        },
      );

      await t.step(
        "a changed config file applies without a restart; a broken one is refused",
        async () => {
          const metrics = async () => await (await fetch(`${agent.url}/metrics`)).text();
          match(await metrics(), /^parca_agent_config_last_reload_successful 1$/m);
          await Deno.writeTextFile(`${config}.tmp`, configText(KEEP_A));
          await Deno.rename(`${config}.tmp`, config);
          // B stops being published within a couple of windows.
          await waitFor("B to be dropped", async () => {
            const page = await (await fetch(`${agent.url}/?labels=raw`)).text();
            const rowB = page.split("<tr>").find((r) =>
              r.includes(`__meta_process_pid="${b.pid}"`)
            );
            return rowB?.includes("dropped by config") ? true : undefined;
          }, 10_000);
          const resA = await fetch(
            `${agent.url}/query?query=${encodeURIComponent(`{comm="${KEEP_A}"}`)}`,
          );
          equal(resA.status, 200);
          await resA.body?.cancel();
          await Deno.writeTextFile(config, "relabel_configs:\n  - action: kepp\n");
          await waitFor(
            "the failed reload",
            async () =>
              /^parca_agent_config_last_reload_successful 0$/m.test(await metrics())
                ? true
                : undefined,
            10_000,
          );
          const stillA = await fetch(
            `${agent.url}/query?query=${encodeURIComponent(`{comm="${KEEP_A}"}`)}`,
          );
          equal(stillA.status, 200, "the previous config stays in force");
          await stillA.body?.cancel();
          match(agent.stderr(), /config reload failed; keeping the previous config/);
        },
      );
    } finally {
      for (const p of progs) {
        try {
          p.kill("SIGKILL");
        } catch {
          // already gone
        }
        await p.status;
      }
      const { code } = await agent.stop();
      equal(code, 0, agent.stderr());
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a real Parca server shows exactly the kept programs with exe, arch and no __meta_ label",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "agent-labels-parca-" });
    const config = `${dir}/agent.yaml`;
    await Deno.writeTextFile(config, configText(`${KEEP_A}|${KEEP_B}`));
    const built = await buildProgram("cpu_chain.c", `${dir}/${KEEP_A}`, ["-O1"]);
    for (const n of [KEEP_B, DROP_C]) {
      await Deno.copyFile(built, `${dir}/${n}`);
      await Deno.chmod(`${dir}/${n}`, 0o755);
    }
    const progs = [KEEP_A, KEEP_B, DROP_C].map((n) => startProgram(`${dir}/${n}`, ["90"]));
    const server = await startParca(freePort(), `${dir}/parca`, { readTimeout: "2m" });
    const agent = await startAgent([
      `--config-path=${config}`,
      `--remote-store-address=${server.address}`,
      "--remote-store-insecure",
      "--remote-store-batch-write-interval=1s",
      "--debuginfo-upload-disable",
      "--node=e2e-labels-node",
      "--metadata-external-labels=suite=labels-e2e",
      "--profiling-duration=1s",
    ]);
    try {
      const values = async (name: string) =>
        (await server.query.values({ labelName: name })).labelValues;
      const deadline = Date.now() + 40_000;
      let comms: string[] = [];
      while (Date.now() < deadline) {
        comms = await values("comm").catch(() => []);
        if (comms.includes(KEEP_A) && comms.includes(KEEP_B)) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      // Every other process of the host is dropped by the keep rule, DROP_C included.
      deepStrictEqual([...comms].sort(), [KEEP_A, KEEP_B].sort());
      deepStrictEqual((await values("exe")).sort(), [KEEP_A, KEEP_B].sort());
      deepStrictEqual(await values("arch"), [machine()]);
      deepStrictEqual(await values("suite"), ["labels-e2e"]);
      deepStrictEqual(await values("node"), ["e2e-labels-node"]);
      const { labelNames } = await server.query.labels({});
      ok(labelNames.length > 0);
      deepStrictEqual(labelNames.filter((l) => l.startsWith("__meta_")), []);
    } finally {
      for (const p of progs) {
        try {
          p.kill("SIGKILL");
        } catch {
          // already gone
        }
        await p.status;
      }
      const { code } = await agent.stop();
      await server.kill();
      equal(code, 0, agent.stderr());
      await Deno.remove(dir, { recursive: true });
    }
  },
});
