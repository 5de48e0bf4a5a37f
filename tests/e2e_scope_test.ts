// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// End-to-end, as root: the agent started the README's way (the launcher, never --allow-all)
// profiles, serves, writes its store, builds unwind tables and sends profiles and debuginfo to a
// real Parca server; and the scope is real: from inside the agent (the debug-only probe), a
// connection to a listening address that no flag names and a write to a writable directory
// that no flag names are refused by Deno.

import { equal, ok } from "node:assert/strict";
import { freePort, startAgent } from "./_lib/agent.ts";
import { startParca } from "./_lib/parca.ts";
import { AGENT_MALLOC } from "../src/launcher/mod.ts";
import { buildProgram, startProgram } from "./_lib/programs.ts";

const ignore = Deno.uid() !== 0;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_scope_test: ignored, it needs root to load BPF programs");
}

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  ms: number,
  log: () => string,
) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}; agent log:\n${log().slice(-4000)}`);
}

Deno.test({
  name: "the scoped agent profiles, serves, stores and sends, and Deno refuses what no flag names",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "e2e_scope_" });
    const outside = await Deno.makeTempDir({ prefix: "e2e_scope_outside_" });
    // Something listens there, so only Deno's refusal can stop the connection.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const unconfigured = `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
    const accepted = (async () => {
      try {
        for await (const c of listener) c.close();
      } catch {
        // closed
      }
    })();
    const server = await startParca(freePort(), `${dir}/parca`, { readTimeout: "2m" });
    const prog = startProgram(await buildProgram("cpu_chain.c", `${dir}/scope_spin`, ["-O1"]), [
      "60",
    ]);
    Deno.env.set(
      "PROFILER_DEBUG_PERMISSION_PROBE",
      JSON.stringify({ connect: unconfigured, write: `${outside}/escaped` }),
    );
    let agent;
    try {
      agent = await startAgent([
        `--remote-store-address=${server.address}`,
        "--remote-store-insecure",
        "--remote-store-batch-write-interval=1s",
        "--profiling-duration=1s",
        "--node=scope-node",
        `--local-store-directory=${dir}/store`,
        `--debuginfo-temp-dir=${dir}`,
      ]);
    } finally {
      Deno.env.delete("PROFILER_DEBUG_PERMISSION_PROBE");
    }
    try {
      const log = agent.stderr;
      // The agent runs scoped: its command line, as the kernel has it, has no --allow-all.
      const pids = await waitFor(
        "the agent's pid",
        async () => {
          const r = await fetch(`${agent.url}/metrics`);
          const text = await r.text();
          return /process_cpu_seconds_total/.test(text) ? text : undefined;
        },
        20_000,
        log,
      );
      ok(pids);
      const cmdline = Deno.readTextFileSync(`/proc/${agent.child.pid}/cmdline`).split("\0");
      ok(!cmdline.includes("--allow-all") && !cmdline.includes("-A"), cmdline.join(" "));
      ok(cmdline.some((a) => a.startsWith("--allow-net=")), cmdline.join(" "));
      ok(cmdline.some((a) => a.endsWith("/main.ts")), "the launcher became the agent (same pid)");
      // V8 runs it with --optimize-for-size (docs/benchmarks.md, "Start-up peak as launched").
      ok(
        cmdline.some((a) => a.startsWith("--v8-flags=") && a.includes("--optimize-for-size")),
        cmdline.join(" "),
      );
      // The launcher capped glibc's malloc arenas before the agent's first thread started.
      const environ = Deno.readTextFileSync(`/proc/${agent.child.pid}/environ`).split("\0");
      ok(environ.includes(`MALLOC_ARENA_MAX=${AGENT_MALLOC.arenaMax}`), "MALLOC_ARENA_MAX not set");
      const arenas = threadArenas(Deno.readTextFileSync(`/proc/${agent.child.pid}/maps`));
      ok(arenas.length <= AGENT_MALLOC.arenaMax - 1, `thread arenas:\n${arenas.join("\n")}`);

      // Refused by Deno, from inside the agent.
      const probes = log().split("\n").filter((l) => l.includes('msg="permission probe"'));
      equal(probes.length, 2, log());
      ok(
        probes.some((l) => l.includes("probe=connect") && l.includes("outcome=refused")),
        probes.join("\n"),
      );
      ok(
        probes.some((l) => l.includes("probe=write") && l.includes("outcome=refused")),
        probes.join("\n"),
      );
      equal([...Deno.readDirSync(outside)].length, 0);

      // Serves, profiles with DWARF tables, stores, and sends profiles and debuginfo.
      await waitFor(
        "a /query profile of the test program",
        async () => {
          const r = await fetch(`${agent.url}/query?query={comm="scope_spin"}`);
          await r.body?.cancel();
          return r.status === 200 ? true : undefined;
        },
        30_000,
        log,
      );
      await waitFor(
        "stored profiles",
        () => {
          const n = [...Deno.readDirSync(`${dir}/store`)].length;
          return Promise.resolve(n > 0 ? n : undefined);
        },
        30_000,
        log,
      );
      await waitFor(
        "an unwind table",
        async () => {
          const text = await (await fetch(`${agent.url}/metrics`)).text();
          const m = /parca_agent_unwind_tables_built_total (\d+)/.exec(text);
          return m && Number(m[1]) > 0 ? true : undefined;
        },
        60_000,
        log,
      );
      await waitFor(
        "the program's profile at the Parca server",
        async () => {
          const { labelValues } = await server.query.values({ labelName: "comm" });
          return labelValues.includes("scope_spin") ? true : undefined;
        },
        60_000,
        log,
      );
      await waitFor(
        "debuginfo in the server's bucket",
        () => {
          const ids = [...Deno.readDirSync(server.bucket)].filter((e) => e.isDirectory);
          return Promise.resolve(ids.length > 0 ? true : undefined);
        },
        120_000,
        log,
      );
      ok(
        !/NotCapable|Requires .* access/.test(
          log().split("\n").filter((l) => !l.includes("permission probe")).join("\n"),
        ),
        log(),
      );
    } finally {
      try {
        prog.kill("SIGKILL");
      } catch {
        // already exited
      }
      await prog.status;
      await agent.stop();
      await server.kill();
      listener.close();
      await accepted;
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(outside, { recursive: true });
    }
  },
});

/**
 * glibc's thread arenas in a maps listing: a read-write mapping on a 64 MiB boundary followed by
 * an inaccessible one that ends 64 MiB after it (the main arena is `[heap]`).
 */
function threadArenas(maps: string): string[] {
  const lines = maps.split("\n").map((l) => l.split(/\s+/));
  const size = 64n << 20n;
  const found: string[] = [];
  for (let i = 0; i + 1 < lines.length; i++) {
    const [range, perms, , , , path] = lines[i];
    const [nextRange, nextPerms] = lines[i + 1];
    if (!range || !nextRange || path || perms !== "rw-p" || nextPerms !== "---p") continue;
    const [start, end] = range.split("-").map((x) => BigInt(`0x${x}`));
    const [nextStart, nextEnd] = nextRange.split("-").map((x) => BigInt(`0x${x}`));
    if (start % size === 0n && nextStart === end && nextEnd - start === size) {
      found.push(`${range} ${nextRange}`);
    }
  }
  return found;
}
