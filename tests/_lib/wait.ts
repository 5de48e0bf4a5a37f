// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Polls until `f` gives a value or the time is up.
 *
 * @param what What is awaited, for the error.
 * @param f Returns the value once it is there, else undefined.
 * @param ms How long to wait.
 * @param everyMs How often to ask.
 * @returns The value.
 * @throws {Error} When the time is up.
 */
export async function waitFor<T>(
  what: string,
  f: () => Promise<T | undefined> | T | undefined,
  ms: number,
  everyMs = 1000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
