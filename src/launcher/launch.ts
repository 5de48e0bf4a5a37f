// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The launcher: computes the agent's permissions from its flags and replaces itself with
 * `deno run <those permissions> <agent entry> <flags>`.
 *
 * @module
 */

import { type AgentFlags, defaultFlags, FlagError, gitRevision, parseFlags } from "../cli/mod.ts";
import { configureLogging, getLogger } from "../log/mod.ts";
import { execve } from "../procfs/mod.ts";
import { agentMallocEnvironment } from "./env.ts";
import { type HostFacts, permissionFlags, type PermissionScope, permissionScope } from "./scope.ts";

/** Deno options the agent runs with besides its permissions. */
export const AGENT_DENO_OPTIONS: readonly string[] = [
  // The table workers' resource limits.
  "--unstable-worker-options",
  // A promise rejected without a handler in a worker ends the worker, not the process.
  "--unstable-no-legacy-abort",
  // V8 favours memory over speed (its own heuristics, e.g. of heap growth): peak RSS 0.85x on
  // two busy programs at the same CPU, within the noise on 50 binaries (docs/benchmarks.md,
  // "V8 --optimize-for-size").
  "--v8-flags=--optimize-for-size",
];

/** What {@link agentCommand} needs. */
export interface LaunchOptions {
  /** The agent's entry module (main.ts, or the release's bundled agent.js). */
  entry: string;
  /** The directory of the agent's files (the checkout or the unpacked release). */
  appDir: string;
  /** deno.json of a checkout (its import map); absent in a release, whose bundle needs none. */
  config?: string;
  /** The git revision to report, when git cannot tell (a release). */
  revision?: string;
}

/**
 * The host as the launcher sees it, with unscoped reads.
 *
 * @param appDir The agent's files.
 * @returns Facts for {@link permissionScope}.
 */
export function liveHostFacts(appDir: string): HostFacts {
  return {
    execPath: Deno.execPath(),
    appDir,
    env: Deno.env.toObject(),
    exists: (p) => {
      try {
        Deno.statSync(p);
        return true;
      } catch {
        return false;
      }
    },
    realPath: (p) => {
      try {
        return Deno.realPathSync(p);
      } catch {
        return p;
      }
    },
    readFile: (p) => {
      try {
        return Deno.readTextFileSync(p);
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * The flags of a command line, or undefined when it is not a run (help, version) or is wrong:
 * the agent then prints the help or the error itself, with its exit code.
 */
function runFlags(args: string[], host: HostFacts): AgentFlags | undefined {
  try {
    const parsed = parseFlags(args, { ...host.env }, { hostname: "localhost" });
    return parsed.kind === "run" ? parsed.flags : undefined;
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    return undefined;
  }
}

/**
 * The agent's `deno` command line (after the executable) for `args`.
 *
 * @param args The agent's arguments.
 * @param opts Where the agent is.
 * @param host The host's facts.
 * @returns The arguments and the scope they carry.
 */
export function agentCommand(
  args: string[],
  opts: LaunchOptions,
  host: HostFacts,
): { args: string[]; scope: PermissionScope; flags?: AgentFlags } {
  const flags = runFlags(args, host);
  const scope = permissionScope(flags ?? defaultFlags("localhost"), host);
  return {
    scope,
    flags,
    args: [
      "run",
      ...(opts.config ? [`--config=${opts.config}`] : ["--no-config"]),
      ...AGENT_DENO_OPTIONS,
      ...permissionFlags(scope),
      opts.entry,
      ...args,
    ],
  };
}

/**
 * Replaces this process with the permission-scoped agent. Returns only if exec fails.
 *
 * @param args The agent's arguments.
 * @param opts Where the agent is.
 * @returns Exit code 1, after printing why exec failed.
 */
export function launch(args: string[], opts: LaunchOptions): number {
  const host = liveHostFacts(opts.appDir);
  const command = agentCommand(args, opts, host);
  const env = { ...agentMallocEnvironment(), ...Deno.env.toObject() };
  env.PROFILER_REVISION ??= opts.revision ?? gitRevision(opts.appDir);
  const flags = command.flags;
  if (flags?.logLevel === "debug") {
    configureLogging({ level: "debug", format: flags.logFormat });
    getLogger("launcher").debug("permission scope", { ...command.scope });
  }
  try {
    execve(host.execPath, [host.execPath, ...command.args], env);
  } catch (e) {
    Deno.stderr.writeSync(new TextEncoder().encode(`parca-agent: ${(e as Error).message}\n`));
  }
  return 1;
}
