// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The agent's command line: the flags of Parca Agent v0.30 (`reference/seed-help.txt`), parsed
 * strictly into typed {@link AgentFlags}, with the `--help` and `--version` texts.
 *
 * Nothing here prints: `main.ts` prints what these functions return, and turns a
 * {@link FlagError} into one line on stderr and exit code 2.
 *
 * @example Parsing, then warning about flags that do nothing yet
 * ```ts
 * import { FlagError, helpText, noEffectWarnings, parseFlags } from "./mod.ts";
 *
 * try {
 *   const r = parseFlags(["--remote-store-address=parca:7070"], Deno.env.toObject());
 *   if (r.kind === "help") console.log(helpText());
 *   if (r.kind === "run") {
 *     for (const line of noEffectWarnings(r.flags, new Set(["http-address"]))) {
 *       console.warn(line);
 *     }
 *   }
 * } catch (e) {
 *   if (!(e instanceof FlagError)) throw e;
 *   console.error(e.message);
 * }
 * ```
 *
 * @module
 */

export {
  type AgentFlags,
  changedFlags,
  defaultFlags,
  FlagError,
  type LogFormat,
  type LogLevel,
  noEffectWarnings,
  type OtlpExporter,
  parseFlags,
  type ParseOptions,
  type ParseResult,
  type PoolEvictionPolicy,
} from "./flags.ts";
export { helpText } from "./help.ts";
export { currentVersion, gitRevision, type VersionInfo, versionText } from "./version.ts";
export { describeFlags } from "./describe.ts";
