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
import { freePort } from "./_lib/agent.ts";
import { readStore, share } from "./_lib/profiles.ts";
import { ElfSymbols, ExecRangeLog, unmappedAddresses } from "./_lib/symbols.ts";

const ignore = Deno.uid() !== 0;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_postgres_jit_test: ignored, needs root to load BPF programs");
}

const PG_BIN = "/usr/lib/postgresql/15/bin";
const POSTGRES = `${PG_BIN}/postgres`;
const LIBC = "/lib/x86_64-linux-gnu/libc.so.6";
const MARKER = "[jit: no frame pointers; PostgreSQL's LLVM JIT: set jit = off for whole stacks]";
const PENDING = "[frame pointers: unwind tables pending]";
/** Every expression of every query compiled (and optimized), whatever its cost. */
const JIT_SETTINGS = [
  "jit=on",
  "jit_above_cost=0",
  "jit_optimize_above_cost=0",
  "jit_inline_above_cost=-1",
  "max_parallel_workers_per_gather=0",
];
const QUERY = "select sum(a * 2 + b), avg(c * c + 1) from t where (a + b) % 7 <> 3;";

/**
 * Runs a command as the postgres user (initdb and postgres refuse root). setpriv execs it, so
 * the child is the command itself and a signal to it reaches it.
 */
function asPostgres(cmd: string, args: string[], piped = false): Deno.Command {
  return new Deno.Command("setpriv", {
    args: ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", cmd, ...args],
    stdout: piped ? "piped" : "null",
    stderr: piped ? "piped" : "null",
  });
}

async function psql(dir: string, port: number, sql: string): Promise<string> {
  const out = await new Deno.Command("psql", {
    args: ["-h", dir, "-p", String(port), "-U", "postgres", "-qAt", "-c", sql],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  if (!out.success) throw new Error(`psql ${sql}: ${d.decode(out.stderr)}`);
  return d.decode(out.stdout);
}

Deno.test({
  name: "PostgreSQL's LLVM JIT code ends stacks in its marker, never a read fault or garbage",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    ok(
      Deno.statSync(POSTGRES).isFile,
      `${POSTGRES} is missing (scripts/setup.sh --for-tests installs postgresql-15)`,
    );
    const dir = await Deno.makeTempDir({ prefix: "agent-pg-" });
    await Deno.chown(dir, Number(await idOf("-u")), Number(await idOf("-g")));
    const store = `${dir}/store`;
    const port = freePort();
    let server: Deno.ChildProcess | undefined;
    let load: Deno.ChildProcess | undefined;
    let ranges: ExecRangeLog | undefined;
    let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
    try {
      const init = await asPostgres(`${PG_BIN}/initdb`, ["-D", `${dir}/data`, "-A", "trust"], true)
        .output();
      ok(init.success, `initdb failed: ${new TextDecoder().decode(init.stderr)}`);
      server = asPostgres(POSTGRES, [
        "-D",
        `${dir}/data`,
        "-k",
        dir,
        "-p",
        String(port),
        "-c",
        "listen_addresses=",
        ...JIT_SETTINGS.flatMap((s) => ["-c", s]),
      ]).spawn();
      for (let i = 0;; i++) {
        try {
          await psql(dir, port, "select 1");
          break;
        } catch (e) {
          if (i > 100) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await psql(
        dir,
        port,
        "create table t as select i as a, i * 7 as b, (i % 1000)::float8 as c " +
          "from generate_series(1, 1000000) i",
      );
      agent = await startAgent([
        `--local-store-directory=${store}`,
        "--profiling-duration=2s",
        "--profiling-cpu-sampling-frequency=97",
      ]);
      // One connection runs the query again and again: one backend to profile.
      const script = `${dir}/load.sql`;
      await Deno.writeTextFile(script, `select pg_backend_pid();\n${QUERY.repeat(100000)}\n`);
      load = new Deno.Command("psql", {
        args: ["-h", dir, "-p", String(port), "-U", "postgres", "-qAt", "-f", script],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const first = await load.stdout.getReader().read();
      const backend = Number(new TextDecoder().decode(first.value).split("\n")[0]);
      ok(backend > 0, "the backend's pid");
      ranges = new ExecRangeLog(backend);
      const binaries = [
        { path: POSTGRES, syms: await ElfSymbols.load(POSTGRES) },
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
      // SIGQUIT: the postmaster's immediate shutdown, which ends its children too.
      for (const [c, sig] of [[load, "SIGKILL"], [server, "SIGQUIT"]] as const) {
        try {
          c?.kill(sig);
        } catch {
          // exited
        }
        await c?.status;
      }
      await waitGone(dir);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** The postgres user's uid (`-u`) or gid (`-g`). */
async function idOf(flag: string): Promise<string> {
  const out = await new Deno.Command("id", { args: [flag, "postgres"], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** Waits until no process runs with `dir` on its command line (the cluster's processes). */
async function waitGone(dir: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const out = await new Deno.Command("pgrep", { args: ["-f", `-D ${dir}/data`] }).output();
    if (!out.success) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}
