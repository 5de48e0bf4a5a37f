// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Helpers shared by the tests of this folder: compiling small C programs and asking binutils.

/**
 * Runs a command and returns its stdout, throwing with its stderr when it fails.
 *
 * @param cmd The program.
 * @param args Its arguments.
 * @returns Standard output as text.
 */
export function run(cmd: string, args: string[]): string {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  if (!out.success) {
    throw new Error(`Cannot run ${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/**
 * Compiles one C file with gcc.
 *
 * @param dir Directory for the source and the binary.
 * @param name Base name of both.
 * @param source C source text.
 * @param flags Extra gcc flags.
 * @returns Path of the binary.
 */
export function compileC(dir: string, name: string, source: string, flags: string[] = []): string {
  const src = `${dir}/${name}.c`;
  const bin = `${dir}/${name}`;
  Deno.writeTextFileSync(src, source);
  run("gcc", ["-O1", "-o", bin, src, ...flags]);
  return bin;
}

/**
 * The GNU build ID that `readelf -n` prints for a file.
 *
 * @param path The ELF file.
 * @returns Lowercase hex, or undefined if readelf prints none.
 */
export function readelfBuildId(path: string): string | undefined {
  return /Build ID: ([0-9a-f]+)/.exec(run("readelf", ["-n", path]))?.[1];
}

/**
 * A small deterministic PRNG (mulberry32), so fuzz-style tests repeat exactly.
 *
 * @param seed The seed.
 * @returns A function giving floats in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs `fn` with a fresh temporary directory and removes it afterwards.
 *
 * @param fn The test body.
 * @returns What `fn` returns.
 */
export async function withTempDir<T>(fn: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = Deno.makeTempDirSync({ prefix: "process_test_" });
  try {
    return await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** A C program that sleeps until killed, for tests that need a live process. */
export const SLEEPER_C = `#include <unistd.h>
int main(void) { for (;;) pause(); }
`;

/**
 * Starts a sleeper binary and waits until it is loaded and asleep, so its maps are complete.
 *
 * @param bin The binary to run.
 * @returns The child; kill it and await its status when done.
 */
export async function spawnAndWaitExec(bin: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(bin, { stdin: "null", stdout: "null", stderr: "null" }).spawn();
  for (let i = 0; i < 500; i++) {
    try {
      // exe changes early in execve, before the new image is mapped; the sleeper is done
      // loading once it sleeps in pause() (state S after the ")" of stat).
      const exe = Deno.readLinkSync(`/proc/${child.pid}/exe`);
      const stat = Deno.readTextFileSync(`/proc/${child.pid}/stat`);
      if (exe === bin && stat.slice(stat.lastIndexOf(")") + 2).startsWith("S")) return child;
    } catch {
      // Not started yet.
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill("SIGKILL");
  await child.status;
  throw new Error(`Cannot start "${bin}": no exec seen after 5 s`);
}

/**
 * Stops a child started by {@link spawnAndWaitExec}.
 *
 * @param child The child.
 */
export async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch {
    // Already exited.
  }
  await child.status;
}
