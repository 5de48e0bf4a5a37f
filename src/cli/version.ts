// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The `--version` text and the git revision it names.
 *
 * @module
 */

import { VERSION } from "../version.ts";

/** What `--version` reports. */
export interface VersionInfo {
  /** The agent's release version. */
  version: string;
  /** The git revision, from {@link gitRevision}. */
  revision: string;
  /** `Deno.version.deno`. */
  deno: string;
  /** `Deno.version.v8`. */
  v8: string;
  /** `Deno.version.typescript`. */
  typescript: string;
}

/**
 * Returns the `--version` text.
 *
 * @param info The versions to print; `version` is usually {@link VERSION}.
 * @returns Two lines, ending with a newline.
 *
 * @example Printing the version
 * ```ts
 * import { versionText } from "./version.ts";
 * const text = versionText({
 *   version: "0.1.0",
 *   revision: "0123456789ab",
 *   deno: "2.9.6",
 *   v8: "15.0",
 *   typescript: "6.0.3",
 * });
 * console.assert(text.startsWith("parca-agent 0.1.0 (revision 0123456789ab)"));
 * ```
 */
export function versionText(info: VersionInfo): string {
  return `parca-agent ${info.version} (revision ${info.revision})\n` +
    `deno ${info.deno}, v8 ${info.v8}, typescript ${info.typescript}\n`;
}

/**
 * Returns the {@link VersionInfo} of this build, with the revision in `$PROFILER_REVISION` (the
 * launcher sets it: the permission-scoped agent may not run git, and a release has no checkout)
 * or else that of the checkout at `repoDir`.
 *
 * @param repoDir The git checkout the agent runs from.
 * @returns The version, revision and runtime versions.
 *
 * @example Printing this build's version
 * ```ts ignore
 * import { currentVersion, versionText } from "./version.ts";
 * console.log(versionText(currentVersion(new URL("../..", import.meta.url).pathname)));
 * ```
 */
export function currentVersion(repoDir: string): VersionInfo {
  return {
    version: VERSION,
    revision: revisionFromEnv() ?? gitRevision(repoDir),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
  };
}

function revisionFromEnv(): string | undefined {
  try {
    return Deno.env.get("PROFILER_REVISION") || undefined;
  } catch {
    return undefined; // no --allow-env for it
  }
}

/**
 * Returns the short (12-digit) commit of the checkout at `repoDir`, with `-dirty` appended when
 * tracked files have changes, or `"unknown"` when git cannot tell (no git, no permission, not a
 * repository, no commit yet).
 *
 * Untracked files do not count as dirty: build outputs and logs would make every run dirty.
 *
 * @param repoDir A directory inside the checkout.
 * @returns The revision, such as `"0123456789ab"` or `"0123456789ab-dirty"`.
 *
 * @example Reading the revision
 * ```ts ignore
 * import { gitRevision } from "./version.ts";
 * console.log(gitRevision("."));
 * ```
 */
export function gitRevision(repoDir: string): string {
  try {
    const head = git(repoDir, ["rev-parse", "--short=12", "HEAD"]);
    if (head === undefined || !/^[0-9a-f]{12,}$/.test(head.trim())) return "unknown";
    const status = git(repoDir, ["status", "--porcelain", "--untracked-files=no"]);
    if (status === undefined) return "unknown";
    return head.trim() + (status.trim() === "" ? "" : "-dirty");
  } catch {
    // Missing git binary or missing --allow-run: the version line must still print.
    return "unknown";
  }
}

function git(dir: string, args: string[]): string | undefined {
  const out = new Deno.Command("git", {
    args: ["-C", dir, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  return out.success ? new TextDecoder().decode(out.stdout) : undefined;
}
