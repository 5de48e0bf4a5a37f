// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// A hostile local user cannot blind the agent to a genuine binary: an unprivileged process runs
// a copy of it with `.eh_frame` zeroed and the same GNU build ID (issue 9). Unwind tables and
// "no table" results are keyed by what the file is, so the genuine binary keeps whole stacks
// while the copy runs and after it exits.

import { ok } from "node:assert/strict";
import { startAgent } from "./_lib/agent.ts";
import { poisonedCopy } from "./_lib/poison.ts";
import { hasRun, readStore, share, userPart, waitFor } from "./_lib/profiles.ts";
import { buildProgram, killAll } from "./_lib/programs.ts";
import { ElfSymbols } from "./_lib/symbols.ts";

const ignore = Deno.uid() !== 0;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_hostile_files_test: ignored, needs root to load BPF programs");
}

const CHAIN = ["chain_c", "chain_b", "chain_a", "main"];

Deno.test({
  name: "poisoned copy: the genuine binary keeps whole stacks while and after the copy runs",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "agent-poison-" });
    await Deno.chmod(dir, 0o755);
    const store = `${dir}/store`;
    const genuine = `${dir}/nofp_chain`;
    const copy = `${dir}/copy/nofp_chain`;
    await buildProgram("cpu_chain.c", genuine, [
      "-O2",
      "-fomit-frame-pointer",
      "-g0",
      "-Wl,--build-id",
    ]);
    await Deno.mkdir(`${dir}/copy`, { mode: 0o755 });
    await poisonedCopy(genuine, copy);
    const syms = await ElfSymbols.load(genuine);
    const binaries = [{ path: genuine, syms }];
    const agent = await startAgent([
      `--local-store-directory=${store}`,
      "--profiling-duration=2s",
      "--profiling-cpu-sampling-frequency=97",
    ]);
    // The attacker: no privilege at all.
    const attacker = new Deno.Command("setpriv", {
      args: ["--reuid=65534", "--regid=65534", "--clear-groups", copy, "60"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    let victim: Deno.ChildProcess | undefined;
    try {
      // The copy is profiled (and its build fails) first.
      await waitFor(
        async () => (await readStore(store, [], new Set([attacker.pid]))).length >= 2,
        30_000,
        "the copy's profiles",
      );
      victim = new Deno.Command(genuine, { args: ["60"], stdout: "null", stderr: "null" }).spawn();
      const pids = new Set([victim.pid]);
      const wholeShare = async (fromNs: bigint) => {
        const ps = (await readStore(store, binaries, pids)).filter((p) => p.timeNanos >= fromNs);
        return share(
          ps.flatMap((p) => p.stacks),
          (f) => hasRun(userPart(f), CHAIN) && f[f.length - 1] === "_start",
        );
      };
      // Its tables load within a window or two; then judge three windows with the copy running.
      const started = BigInt(Date.now()) * 1_000_000n;
      await waitFor(
        async () => {
          const ps = await readStore(store, binaries, pids);
          return ps.filter((p) => p.timeNanos >= started).length >= 2;
        },
        30_000,
        "the genuine binary's profiles",
      );
      const during = BigInt(Date.now()) * 1_000_000n;
      await new Promise((r) => setTimeout(r, 6500));
      const d = await wholeShare(during);
      ok(d.total >= 20, `only ${d.total} samples while the copy runs`);
      ok(
        d.share >= 0.95,
        `while the copy runs: ${
          (d.share * 100).toFixed(1)
        } % of ${d.total} whole; worst:\n${d.bad}`,
      );
      attacker.kill("SIGKILL");
      await attacker.status;
      const after = BigInt(Date.now()) * 1_000_000n + 2_000_000_000n;
      await new Promise((r) => setTimeout(r, 8500));
      const a = await wholeShare(after);
      ok(a.total >= 20, `only ${a.total} samples after the copy exited`);
      ok(
        a.share >= 0.95,
        `after the copy exited: ${
          (a.share * 100).toFixed(1)
        } % of ${a.total} whole; worst:\n${a.bad}`,
      );
    } finally {
      await killAll([attacker, victim]);
      await agent.stop("SIGTERM");
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "SIGTERM while tables are being built: no BPF map is touched after it is closed",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const agent = await startAgent(["--log-level=debug"]);
    // Programs with large tables (node's binary alone is ~100 MB): their builds take seconds.
    const busy = [
      ["node", ["-e", "const t = Date.now(); while (Date.now() - t < 60000);"]],
      ["python3", ["-c", "import time\nt = time.time()\nwhile time.time() - t < 60: pass"]],
    ].map(([cmd, args]) =>
      new Deno.Command(cmd as string, { args: args as string[], stdout: "null", stderr: "null" })
        .spawn()
    );
    let stopped: { code: number } | undefined;
    try {
      await waitFor(
        async () => {
          const m = await (await fetch(`${agent.url}/metrics`)).text();
          return /^parca_agent_unwind_table_builds_in_flight [1-9]/m.test(m);
        },
        30_000,
        "table builds in flight",
        // Builds are fast now (node's ~100 MB binary well under a second): look often.
        20,
      );
      stopped = await agent.stop("SIGTERM");
    } finally {
      await killAll(busy);
      if (!stopped) await agent.stop("SIGKILL");
    }
    const log = agent.stderr();
    ok(stopped?.code === 0, `exit ${stopped?.code}:\n${log.split("\n").slice(-20).join("\n")}`);
    const bad = log.split("\n").filter((l) =>
      /EBADF|errno 9\b|bad file descriptor|rules array is full|cannot load an unwind table|cannot store/i
        .test(l)
    );
    ok(bad.length === 0, `lines about closed maps after SIGTERM:\n${bad.join("\n")}`);
    ok(/msg="?stopped/.test(log), "the agent logged its stop");
  },
});
