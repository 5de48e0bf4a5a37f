// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * A debug-only hook that shows the permission scope is real: from inside the running agent, try
 * what the scope should refuse and log what Deno said.
 *
 * @module
 */

/** The variable that turns the probe on: JSON `{"connect":"host:port","write":"/path"}`. */
export const PROBE_ENV = "PROFILER_DEBUG_PERMISSION_PROBE";

/** One probe's outcome: `refused` is Deno's NotCapable; `failed` is any other error. */
export interface ProbeResult {
  probe: "connect" | "write";
  target: string;
  outcome: "allowed" | "refused" | "failed";
  error?: string;
}

interface Logger {
  warn(message: string, props: Record<string, unknown>): void;
}

async function attempt(
  probe: ProbeResult["probe"],
  target: string,
  f: () => Promise<void>,
): Promise<ProbeResult> {
  try {
    await f();
    return { probe, target, outcome: "allowed" };
  } catch (e) {
    const refused = e instanceof Deno.errors.NotCapable;
    return { probe, target, outcome: refused ? "refused" : "failed", error: (e as Error).message };
  }
}

/**
 * When `$PROFILER_DEBUG_PERMISSION_PROBE` is set, connects to its `connect` address and writes
 * its `write` file, and logs one `permission probe` warning per attempt with the outcome. Does
 * nothing otherwise (and when the variable cannot be read).
 *
 * @param log Where the outcomes go.
 * @returns The outcomes (empty when off).
 */
export async function runPermissionProbe(log: Logger): Promise<ProbeResult[]> {
  let spec: string | undefined;
  try {
    spec = Deno.env.get(PROBE_ENV);
  } catch {
    return [];
  }
  if (!spec) return [];
  let parsed: { connect?: string; write?: string };
  try {
    parsed = JSON.parse(spec);
  } catch (e) {
    log.warn("permission probe: bad $" + PROBE_ENV, { error: (e as Error).message });
    return [];
  }
  const results: ProbeResult[] = [];
  if (parsed.connect) {
    const m = /^(.*):(\d+)$/.exec(parsed.connect);
    const [hostname, port] = m ? [m[1], Number(m[2])] : [parsed.connect, 80];
    results.push(
      await attempt("connect", parsed.connect, async () => {
        const conn = await Deno.connect({ hostname, port });
        conn.close();
      }),
    );
  }
  if (parsed.write) {
    const path = parsed.write;
    results.push(await attempt("write", path, () => Deno.writeTextFile(path, "probe\n")));
  }
  for (const r of results) log.warn("permission probe", { ...r });
  return results;
}
