// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// How a supervised child learns that its supervisor is gone. A `kill -9` of the supervisor
// used to leave the child profiling on its own, BPF attached and the port bound (issue 9). Two
// independent signs, either of which stops the child the way SIGTERM does:
//
// 1. PR_SET_PDEATHSIG: the kernel sends the child SIGTERM when its parent dies. Set after the
//    child started, so the parent may already be gone: getppid() is then no longer the
//    supervisor's pid (the child was reparented), and the child stops at once.
// 2. A pipe: the supervisor holds the write end of the child's stdin and never writes. When the
//    supervisor dies, however it dies, the kernel closes that end and the child reads EOF. This
//    also covers what PDEATHSIG misses (it follows the parent *thread* that forked, and is
//    cleared by a set-uid exec).

import { parentPid, setParentDeathSignal } from "../procfs/mod.ts";

/** The environment variable by which a supervisor tells the child its pid. */
export const SUPERVISOR_PID_ENV = "PROFILER_SUPERVISOR_PID";

const SIGTERM = 15;

/** The parent's pid now, from the kernel (Deno.ppid may be read once at start). */
export function currentParentPid(): number {
  return parentPid();
}

/** A running watch; `close()` ends it. */
export interface SupervisorWatch {
  /** Stops watching stdin (the death signal stays armed: it is harmless once stopping). */
  close(): void;
}

/**
 * In a supervised child (`$PROFILER_SUPERVISOR_PID` set), arranges for `onGone` to be called
 * when the supervisor dies: by SIGTERM from the kernel (PDEATHSIG, which the agent's own SIGTERM
 * handling turns into a stop), by EOF on stdin, or at once when the supervisor is already gone.
 *
 * @param env The environment.
 * @param onGone Called (at most once) with why the supervisor is considered gone.
 * @returns The watch, or undefined when this process is not a supervised child.
 */
export function watchSupervisor(
  env: Record<string, string | undefined>,
  onGone: (why: string) => void,
): SupervisorWatch | undefined {
  const supervisor = Number(env[SUPERVISOR_PID_ENV]);
  if (!Number.isSafeInteger(supervisor) || supervisor <= 0) return undefined;
  let fired = false;
  const gone = (why: string): void => {
    if (fired) return;
    fired = true;
    onGone(why);
  };
  if (!setParentDeathSignal(SIGTERM)) {
    // Unlikely (it cannot fail for a valid signal); the pipe still watches.
  }
  // After arming: if the supervisor died before, we were reparented and no signal will come.
  if (currentParentPid() !== supervisor) {
    queueMicrotask(() => gone("the supervisor exited before the agent started"));
  }
  let closed = false;
  void (async () => {
    const buf = new Uint8Array(256);
    try {
      // The supervisor never writes: anything but EOF is ignored.
      while (!closed && (await Deno.stdin.read(buf)) !== null);
    } catch {
      // stdin unreadable: rely on the death signal
      return;
    }
    if (!closed) gone("the supervisor's pipe closed");
  })();
  return {
    close() {
      closed = true;
    },
  };
}
