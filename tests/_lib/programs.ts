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

/**
 * Builds C calling assembly without CFI (tests/programs/asm_main.c + asm_loop.S) without frame
 * pointers.
 *
 * @param outPath Where the executable goes.
 * @returns outPath.
 */
export async function buildAsmProgram(outPath: string): Promise<string> {
  const out = await new Deno.Command("gcc", {
    args: [
      "-O2",
      "-fomit-frame-pointer",
      "-o",
      outPath,
      `${PROGRAMS}asm_main.c`,
      `${PROGRAMS}asm_loop.S`,
    ],
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`gcc asm_main failed: ${new TextDecoder().decode(out.stderr)}`);
  return outPath;
}

/**
 * Compiles tests/programs/Spin.java into `dir` (run it with `java -cp dir Spin SECONDS`).
 *
 * @param dir Class output directory.
 */
export async function buildJavaSpin(dir: string): Promise<void> {
  const out = await new Deno.Command("javac", {
    args: ["-d", dir, `${PROGRAMS}Spin.java`],
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`javac failed: ${new TextDecoder().decode(out.stderr)}`);
}

/**
 * Builds libwork.so and pie_main (a PIE calling it through the PLT, with an rpath to it) from
 * tests/programs into a directory.
 *
 * @param dir Where both go.
 * @param flags Compiler flags of both (e.g. no frame pointers).
 * @returns The executable's and the library's paths.
 */
export async function buildPieWithLibrary(
  dir: string,
  flags: string[],
): Promise<{ exe: string; lib: string }> {
  const lib = `${dir}/libwork.so`;
  const exe = `${dir}/pie_main`;
  await buildProgram("libwork.c", lib, [...flags, "-fPIC", "-shared"]);
  // The library goes after the source: the linker resolves left to right.
  const out = await new Deno.Command("gcc", {
    args: [
      ...flags,
      "-fPIE",
      "-pie",
      "-o",
      exe,
      `${PROGRAMS}pie_main.c`,
      `-L${dir}`,
      "-lwork",
      `-Wl,-rpath,${dir}`,
    ],
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`gcc pie_main.c failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return { exe, lib };
}
