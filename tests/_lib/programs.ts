// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Builds the C test programs of tests/programs at test time, into a temporary directory.
 *
 * @module
 */

const PROGRAMS = new URL("../programs/", import.meta.url).pathname;

/**
 * Compiles one test program.
 *
 * @param source File name under tests/programs, e.g. "cpu_chain.c".
 * @param outPath Where the executable goes (its base name becomes the process comm).
 * @param flags Compiler flags.
 * @returns outPath.
 */
export async function buildProgram(
  source: string,
  outPath: string,
  flags: string[],
): Promise<string> {
  const out = await new Deno.Command("gcc", {
    args: [...flags, "-o", outPath, `${PROGRAMS}${source}`],
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`gcc ${source} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return outPath;
}

/**
 * Starts a program and returns its child process.
 *
 * @param path Executable.
 * @param args Arguments.
 * @returns The child (stdout/stderr discarded).
 */
export function startProgram(path: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(path, { args, stdout: "null", stderr: "null", stdin: "null" }).spawn();
}

/**
 * Kills programs (SIGKILL) and waits for them; ones that exited already are fine.
 *
 * @param children The programs (undefined entries are skipped).
 */
export async function killAll(children: Iterable<Deno.ChildProcess | undefined>): Promise<void> {
  for (const c of children) {
    if (!c) continue;
    try {
      c.kill("SIGKILL");
    } catch {
      // exited
    }
    await c.status;
  }
}
