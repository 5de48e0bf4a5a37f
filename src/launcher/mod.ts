// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The permission-scoped run: the agent starts without `--allow-all`.
 *
 * `launch.ts` (what `./agent.sh`, `deno task agent` and the release's `bin/parca-agent` run)
 * parses the agent's flags, computes the Deno permissions they need ({@link permissionScope}, the
 * one place that says what the agent may touch) and replaces itself (execve, same pid) with
 * `deno run <permissions> main.ts <flags>`. `--log-level=debug` prints the scope first.
 *
 * @example The permissions of a command line
 * ```ts ignore
 * import { agentCommand, liveHostFacts } from "./mod.ts";
 * const { args } = agentCommand(["--local-store-directory=/tmp/p"], { entry: "main.ts", appDir: "." }, liveHostFacts("."));
 * console.log(args.filter((a) => a.startsWith("--allow-")));
 * ```
 *
 * @module
 */

export {
  AGENT_DENO_OPTIONS,
  agentCommand,
  launch,
  type LaunchOptions,
  liveHostFacts,
} from "./launch.ts";
export {
  EXTRA_NET_ENV,
  type HostFacts,
  netEntry,
  permissionFlags,
  type PermissionScope,
  permissionScope,
} from "./scope.ts";
export { AGENT_ENV_VARS, AGENT_MALLOC, agentEnvironment, agentMallocEnvironment } from "./env.ts";
export { runPermissionProbe } from "./probe.ts";
