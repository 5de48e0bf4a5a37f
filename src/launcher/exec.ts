// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Replaces the running process with another program (execve), so that the permission-scoped
 * agent keeps the launcher's pid: systemd, Kubernetes and shells signal and wait for the agent
 * itself, with no process in between to forward signals or exit codes.
 *
 * @module
 */

import { LIBC_CANDIDATES } from "../procfs/mod.ts";

const symbols = {
  /** int execve(const char *path, char *const argv[], char *const envp[]) */
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  /** int *__errno_location(void) */
  __errno_location: { parameters: [], result: "pointer" },
  /** char *strerror(int errnum) */
  strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

const encoder = new TextEncoder();

/** A NULL-terminated array of pointers to NUL-terminated strings, and the strings it points to. */
function cArray(strings: string[]): { array: BigUint64Array<ArrayBuffer>; keep: Uint8Array[] } {
  const keep = strings.map((s) => encoder.encode(s + "\0"));
  const array = new BigUint64Array(strings.length + 1);
  keep.forEach((b, i) => {
    array[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
  });
  return { array, keep };
}

/**
 * Runs `path` in place of this process, with `args` (argv[0] included) and `env`. Returns only
 * when execve fails.
 *
 * @param path The executable, absolute.
 * @param args Its argv, starting with argv[0].
 * @param env Its whole environment.
 * @throws {Error} When execve fails (the message names the errno).
 */
export function execve(path: string, args: string[], env: Record<string, string>): never {
  const lib = LIBC_CANDIDATES.map((p) => {
    try {
      return Deno.dlopen(p, symbols);
    } catch {
      return undefined;
    }
  }).find((l) => l !== undefined);
  if (!lib) throw new Error(`Cannot exec ${path}: no libc in ${LIBC_CANDIDATES.join(", ")}`);
  const argv = cArray(args);
  const envp = cArray(Object.entries(env).map(([k, v]) => `${k}=${v}`));
  const file = encoder.encode(path + "\0");
  lib.symbols.execve(file, new Uint8Array(argv.array.buffer), new Uint8Array(envp.array.buffer));
  const p = lib.symbols.__errno_location();
  const code = p ? new Deno.UnsafePointerView(p).getInt32() : 0;
  const why = lib.symbols.strerror(code);
  // Naming the counts keeps the strings alive until here: the pointer arrays refer to them.
  throw new Error(
    `Cannot exec ${path} with ${argv.keep.length} arguments and ${envp.keep.length} variables: ` +
      (why ? Deno.UnsafePointerView.getCString(why) : `errno ${code}`),
  );
}
