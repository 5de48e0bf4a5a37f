// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// End-to-end, as root with the real BPF program: PostgreSQL 15 with its LLVM JIT compiling every
// query's expressions into fresh anonymous pages (which it frees after the query). The compiled
// code has no frame pointers and no unwind information the agent can see, so a walk that
// reaches it must end in PostgreSQL's JIT marker (naming the setting that gives whole stacks),
// never in a read fault or a garbage frame; the backend's other samples are whole down to
// `_start` through the postgres binary's own tables.

import { ok } from "node:assert/strict";
import { startAgent } from "./_lib/agent.ts";
import { EXPRESSION_QUERY, JIT_EVERY_QUERY, PG_BIN, startPostgres } from "./_lib/postgres.ts";
import { readStore, share } from "./_lib/profiles.ts";
import { ElfSymbols, ExecRangeLog, unmappedAddresses } from "./_lib/symbols.ts";

const ignore = Deno.uid() !== 0;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_postgres_jit_test: ignored, needs root to load BPF programs");
}

const LIBC = "/lib/x86_64-linux-gnu/libc.so.6";
const MARKER = "[jit: no frame pointers; PostgreSQL's LLVM JIT: set jit = off for whole stacks]";
const PENDING = "[frame pointers: unwind tables pending]";

Deno.test({
  name: "PostgreSQL's LLVM JIT code ends stacks in its marker, never a read fault or garbage",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const pg = await startPostgres(JIT_EVERY_QUERY);
    const store = await Deno.makeTempDir({ prefix: "agent-pg-store-" });
    let ranges: ExecRangeLog | undefined;
    let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
    try {
      await pg.createTable(1_000_000);
      agent = await startAgent([
        `--local-store-directory=${store}`,
        "--profiling-duration=2s",
        "--profiling-cpu-sampling-frequency=97",
      ]);
      const { backend } = await pg.loop(EXPRESSION_QUERY);
      // The JIT maps and unmaps code per query: remember every executable range it had.
      ranges = new ExecRangeLog(backend);
      const postgres = `${PG_BIN}/postgres`;
      const binaries = [
        { path: postgres, syms: await ElfSymbols.load(postgres) },
        { path: LIBC, syms: await ElfSymbols.load(LIBC) },
      ];
      const pids = new Set([backend]);
      // Judge windows after the backend's tables (postgres, libLLVM once the JIT loads it) are
      // in: until then its frames come from frame pointers, marked pending.
      const deadline = Date.now() + 240_000;
      for (;;) {
        await new Promise((r) => setTimeout(r, 1000));
        const last = (await readStore(store, binaries, pids)).at(-1);
        if (last && !last.stacks.some((s) => s.frames.includes(PENDING))) break;
        ok(Date.now() < deadline, `tables still pending; agent log:\n${agent.stderr()}`);
      }
      const from = BigInt(Date.now()) * 1_000_000n;
      await new Promise((r) => setTimeout(r, 12_000));
      const profiles = await readStore(store, binaries, pids);
      for (const p of profiles) {
        const bad = unmappedAddresses(p.profile, backend, ranges.ranges());
        ok(bad.length === 0, `${p.file}: frames outside every mapping: ${bad}`);
      }
      // Stacks with a frame in JIT code: an address no mapping of the profile holds.
      const stacks = profiles.filter((p) => p.timeNanos >= from).flatMap((p) => {
        const locations = new Map(p.profile.location.map((l) => [l.id, l]));
        return p.stacks.map((s, i) => ({
          ...s,
          jit: p.profile.sample[i].locationId.some((id) => {
            const l = locations.get(id)!;
            return l.mappingId === 0n && l.line.length === 0;
          }),
        }));
      });
      const total = stacks.reduce((n, s) => n + s.count, 0);
      ok(total >= 100, `too few samples (${total}); agent log:\n${agent.stderr()}`);
      const jit = stacks.filter((s) => s.jit);
      ok(jit.reduce((n, s) => n + s.count, 0) >= 20, "samples in the JIT's code");
      const marked = share(jit, (f) => f.at(-1) === MARKER);
      ok(marked.share >= 0.9, `${marked.share} of JIT samples end in the marker:\n${marked.bad}`);
      const faults = share(stacks, (f) => !f.some((x) => x.includes("read fault")));
      ok(faults.share === 1, `read faults:\n${faults.bad}`);
      const rest = stacks.filter((s) => !s.jit && !s.frames.includes(MARKER));
      const whole = share(rest, (f) => f.at(-1) === "_start");
      ok(whole.share >= 0.9, `${whole.share} of ${whole.total} others whole:\n${whole.bad}`);
      const m = await (await fetch(`${agent.url}/metrics`)).text();
      ok(m.includes(`reason="marked:${MARKER}"`), "the marker is counted per reason");
    } finally {
      ranges?.stop();
      await agent?.stop("SIGTERM");
      await pg.stop();
      await Deno.remove(store, { recursive: true });
    }
  },
});
