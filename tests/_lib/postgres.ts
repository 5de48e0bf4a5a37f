// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * A throwaway PostgreSQL 15 cluster for tests and benchmarks (root only): initdb into a temp
 * directory, a postmaster on a Unix socket there with the given settings, and a client running
 * one query over and over on one connection, so one backend process does the work.
 *
 * @module
 */

import { freePort } from "./agent.ts";

/** Where Debian's postgresql-15 puts its programs (scripts/setup.sh --for-tests installs it). */
export const PG_BIN = "/usr/lib/postgresql/15/bin";

/** Settings that make the LLVM JIT compile (and optimize) every query's expressions. */
export const JIT_EVERY_QUERY = [
  "jit=on",
  "jit_above_cost=0",
  "jit_optimize_above_cost=0",
  "jit_inline_above_cost=-1",
  "max_parallel_workers_per_gather=0",
];

/** A query that spends its time in expressions over a table {@link PgCluster.createTable} makes. */
export const EXPRESSION_QUERY =
  "select sum(a * 2 + b), avg(c * c + 1) from t where (a + b) % 7 <> 3;";

/** A running cluster. */
export interface PgCluster {
  dir: string;
  port: number;
  /** Runs SQL with psql; returns its unaligned output. */
  psql(sql: string): Promise<string>;
  /** Creates table t (a, b, c) of `rows` rows for {@link EXPRESSION_QUERY}. */
  createTable(rows: number): Promise<void>;
  /**
   * Starts a client running `query` over and over on one connection.
   *
   * @returns The client and its backend's pid.
   */
  loop(query: string): Promise<{ client: Deno.ChildProcess; backend: number }>;
  /** Stops clients and the cluster (immediate shutdown) and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Runs a command as the postgres user (initdb and postgres refuse root). setpriv execs it, so
 * the child is the command itself and a signal to it reaches it.
 */
function asPostgres(cmd: string, args: string[], piped: boolean): Deno.Command {
  return new Deno.Command("setpriv", {
    args: ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", cmd, ...args],
    stdout: piped ? "piped" : "null",
    stderr: piped ? "piped" : "null",
  });
}

async function end(c: Deno.ChildProcess | undefined, signal: Deno.Signal): Promise<void> {
  try {
    c?.kill(signal);
  } catch {
    // exited
  }
  await c?.status;
}

async function idOf(flag: "-u" | "-g"): Promise<number> {
  const out = await new Deno.Command("id", { args: [flag, "postgres"], stdout: "piped" }).output();
  return Number(new TextDecoder().decode(out.stdout).trim());
}

/**
 * Starts a cluster.
 *
 * @param settings `name=value` server settings (e.g. {@link JIT_EVERY_QUERY}).
 * @returns The cluster, ready for connections.
 */
export async function startPostgres(settings: string[]): Promise<PgCluster> {
  try {
    Deno.statSync(`${PG_BIN}/postgres`);
  } catch {
    throw new Error(
      `${PG_BIN}/postgres is missing (scripts/setup.sh --for-tests installs postgresql-15)`,
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "agent-pg-" });
  await Deno.chown(dir, await idOf("-u"), await idOf("-g"));
  const port = freePort();
  const clients: Deno.ChildProcess[] = [];
  let server: Deno.ChildProcess | undefined;
  const psql = async (sql: string): Promise<string> => {
    const out = await new Deno.Command("psql", {
      args: ["-h", dir, "-p", String(port), "-U", "postgres", "-qAt", "-c", sql],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const d = new TextDecoder();
    if (!out.success) throw new Error(`psql ${sql}: ${d.decode(out.stderr)}`);
    return d.decode(out.stdout);
  };
  const stop = async () => {
    for (const c of clients) await end(c, "SIGKILL");
    // SIGQUIT: the postmaster's immediate shutdown, which ends its children too.
    await end(server, "SIGQUIT");
    await Deno.remove(dir, { recursive: true });
  };
  try {
    const init = await asPostgres(`${PG_BIN}/initdb`, ["-D", `${dir}/data`, "-A", "trust"], true)
      .output();
    if (!init.success) throw new Error(`initdb: ${new TextDecoder().decode(init.stderr)}`);
    server = asPostgres(`${PG_BIN}/postgres`, [
      "-D",
      `${dir}/data`,
      "-k",
      dir,
      "-p",
      String(port),
      "-c",
      "listen_addresses=",
      ...settings.flatMap((s) => ["-c", s]),
    ], false).spawn();
    for (let i = 0;; i++) {
      try {
        await psql("select 1");
        break;
      } catch (e) {
        if (i > 200) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    dir,
    port,
    psql,
    async createTable(rows: number) {
      await psql(
        "create table t as select i as a, i * 7 as b, (i % 1000)::float8 as c " +
          `from generate_series(1, ${rows}) i`,
      );
    },
    async loop(query: string) {
      const script = `${dir}/loop-${clients.length}.sql`;
      await Deno.writeTextFile(script, `select pg_backend_pid();\n${query.repeat(100000)}\n`);
      const client = new Deno.Command("psql", {
        args: ["-h", dir, "-p", String(port), "-U", "postgres", "-qAt", "-f", script],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      clients.push(client);
      const reader = client.stdout.getReader();
      const first = await reader.read();
      reader.releaseLock();
      // The rest of its output is not read: drain it so the client never blocks on a pipe.
      client.stdout.pipeTo(new WritableStream()).catch(() => {});
      const backend = Number(new TextDecoder().decode(first.value).split("\n")[0]);
      if (!(backend > 0)) throw new Error("psql did not print its backend's pid");
      return { client, backend };
    },
    stop,
  };
}
