// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Runs the agent (through launch.ts, permission-scoped) as a child process for end-to-end tests, with its stderr collected.
 *
 * @module
 */

const LAUNCH = new URL("../../launch.ts", import.meta.url).pathname;

/**
 * How the README's run command starts the agent: the launcher, which execs the agent with the
 * Deno permissions its flags need (never --allow-all).
 */
export const LAUNCHER_ARGS: readonly string[] = [
  "run",
  "--no-prompt",
  "--allow-read",
  "--allow-env",
  "--allow-sys",
  "--allow-ffi",
  "--allow-run=git",
  LAUNCH,
];

/** A running agent. */
export interface RunningAgent {
  child: Deno.ChildProcess;
  /** Base URL of its HTTP server. */
  url: string;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Sends a signal and waits for the exit status, with the time it took. */
  stop(signal?: Deno.Signal): Promise<{ code: number; ms: number }>;
}

/**
 * Picks a free TCP port on 127.0.0.1.
 *
 * @returns A port number.
 */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Starts the agent with the given flags plus `--http-address` on a free port, and waits until
 * `/ready` answers 200 (or the process exits).
 *
 * @param flags Command-line flags.
 * @param timeoutMs How long to wait for readiness.
 * @param prefix A command the agent runs under, e.g. `["prlimit", "--nofile=256", "--"]`.
 * @param v8Flags V8 options of the agent (`--max-old-space-size=64`), passed in `DENO_V8_FLAGS`:
 *   the launcher's re-exec keeps the environment, not its own Deno flags.
 * @returns The running agent.
 */
export async function startAgent(
  flags: string[],
  timeoutMs = 20_000,
  prefix: string[] = [],
  v8Flags: string[] = [],
): Promise<RunningAgent> {
  const port = freePort();
  const argv = [...prefix, Deno.execPath()];
  const child = new Deno.Command(argv[0], {
    args: [
      ...argv.slice(1),
      ...LAUNCHER_ARGS,
      `--http-address=127.0.0.1:${port}`,
      ...flags,
    ],
    ...(v8Flags.length ? { env: { DENO_V8_FLAGS: v8Flags.join(",") } } : {}),
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let errText = "";
  const decoder = new TextDecoder();
  const pump = (async () => {
    for await (const chunk of child.stderr) errText += decoder.decode(chunk, { stream: true });
  })();
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const agent: RunningAgent = {
    child,
    url,
    stderr: () => errText,
    async stop(signal: Deno.Signal = "SIGTERM") {
      const t0 = performance.now();
      if (!exited) {
        try {
          child.kill(signal);
        } catch {
          // already gone
        }
      }
      const s = await status;
      await pump;
      return { code: s.code, ms: performance.now() - t0 };
    },
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited) {
    try {
      const res = await fetch(`${url}/ready`);
      await res.body?.cancel();
      if (res.status === 200) return agent;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const { code } = await agent.stop("SIGKILL");
  throw new Error(`agent did not become ready (exit ${code}):\n${errText}`);
}

/**
 * Runs the agent to completion (for flag and start-up errors).
 *
 * @param args The agent's arguments.
 * @param opts Optional prefix command (e.g. setpriv) and timeout.
 * @returns Exit code, stdout and stderr.
 */
export async function runAgentOnce(
  args: string[],
  opts: { prefix?: string[]; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const prefix = opts.prefix ?? [];
  const argv = [
    ...prefix,
    Deno.execPath(),
    ...LAUNCHER_ARGS,
    ...args,
  ];
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}
