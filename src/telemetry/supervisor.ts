// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Crash reports: the agent's work runs in a supervised child; when the child dies abnormally the
 * parent sends its last stderr to the Parca server (TelemetryService.ReportPanic).
 *
 * @module
 */

import * as procfs from "../procfs/mod.ts";
import { SUPERVISOR_PID_ENV } from "./_parent_death.ts";

/** Keeps the last `capacity` bytes written to it. */
export class TailBuffer {
  readonly capacity: number;
  #chunks: Uint8Array[] = [];
  #size = 0;

  /** @param capacity Bytes kept, at least 1. */
  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
  }

  /** Bytes currently kept. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends bytes, forgetting the oldest past the capacity.
   *
   * @param b The bytes; the buffer keeps a reference when they fit, so do not reuse it.
   */
  push(b: Uint8Array): void {
    if (b.length >= this.capacity) {
      this.#chunks = [b.slice(b.length - this.capacity)];
      this.#size = this.capacity;
      return;
    }
    this.#chunks.push(b);
    this.#size += b.length;
    while (this.#size > this.capacity) {
      const first = this.#chunks[0];
      const excess = this.#size - this.capacity;
      if (first.length <= excess) {
        this.#chunks.shift();
        this.#size -= first.length;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#size -= excess;
      }
    }
  }

  /** The kept bytes as text (a character cut at the start becomes U+FFFD). */
  text(): string {
    const all = new Uint8Array(this.#size);
    let o = 0;
    for (const c of this.#chunks) {
      all.set(c, o);
      o += c.length;
    }
    return new TextDecoder().decode(all);
  }
}

const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSYS: 31,
};

/** The exit code a shell reports for a child status: its code, or 128 + signal number. */
export function exitCodeOf(status: Deno.CommandStatus): number {
  if (status.signal) return 128 + (SIGNAL_NUMBERS[status.signal] ?? 0);
  return status.code;
}

/** The logger the supervisor writes to; a LogTape `Logger` fits. */
export interface SupervisorLogger {
  /** Logs at info level. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Logs at warning level. */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** Logs at error level. */
  error(message: string, properties?: Record<string, unknown>): void;
}

/** Options of {@link superviseChild}. */
export interface SuperviseOptions {
  /** The child's executable. */
  command: string;
  /** Its arguments. */
  args: string[];
  /** How much of the child's stderr to keep for a report, in bytes. */
  stderrBufferBytes: number;
  /** Sends the report; its failure is logged, not thrown. */
  report(stderr: string, exit: string): Promise<void>;
  /** Where the supervisor's own lines go. */
  log: SupervisorLogger;
}

/**
 * Runs a child with stdout inherited and its stderr passed through to ours while the last bytes
 * are kept. SIGINT and SIGTERM are forwarded to it. When it dies abnormally (a non-zero exit or
 * a signal) and the parent was not asked to stop, `report` is called with the kept stderr before
 * returning.
 *
 * The child dies with the supervisor: its stdin is a pipe whose write end only the supervisor
 * holds, and `$PROFILER_SUPERVISOR_PID` tells it to watch that pipe and to arm PR_SET_PDEATHSIG
 * (see `watchSupervisor`), so even a `kill -9` of the supervisor stops it.
 *
 * @param opts The child and the report.
 * @returns The exit code to end with: the child's (128 + signal number when it was killed).
 */
export async function superviseChild(opts: SuperviseOptions): Promise<number> {
  const child = new Deno.Command(opts.command, {
    args: opts.args,
    stdin: "piped",
    stdout: "inherit",
    stderr: "piped",
    env: { [SUPERVISOR_PID_ENV]: String(Deno.pid) },
  }).spawn();
  // Never written, never closed by us: the child reads EOF only when this process is gone.
  const keepAlive = child.stdin.getWriter();
  let stopRequested = false;
  const forward = (sig: Deno.Signal) => () => {
    stopRequested = true;
    try {
      child.kill(sig);
    } catch {
      // already gone
    }
  };
  const handlers: Array<[Deno.Signal, () => void]> = [
    ["SIGINT", forward("SIGINT")],
    ["SIGTERM", forward("SIGTERM")],
  ];
  for (const [s, h] of handlers) Deno.addSignalListener(s, h);
  const tail = new TailBuffer(opts.stderrBufferBytes);
  const pump = (async () => {
    for await (const chunk of child.stderr) {
      tail.push(chunk);
      try {
        await Deno.stderr.write(chunk);
      } catch {
        // our stderr is closed: keep collecting for the report
      }
    }
  })();
  const status = await child.status;
  await pump.catch(() => {});
  await keepAlive.close().catch(() => {});
  for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  const code = exitCodeOf(status);
  const abnormal = status.signal !== null || status.code !== 0;
  if (abnormal && !stopRequested) {
    const exit = status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
    opts.log.error("agent process died; reporting the crash to the remote store", {
      exit,
      pid: child.pid,
      stderrBytes: tail.size,
    });
    try {
      await opts.report(tail.text(), exit);
      opts.log.info("crash report sent");
    } catch (e) {
      opts.log.warn("cannot send the crash report", { error: (e as Error).message });
    }
  }
  return code;
}

/**
 * The command line that re-runs this very program: the runtime and its flags and script as
 * `/proc/self/cmdline` shows them (so `deno run --allow-all ... main.ts` stays exactly that, and
 * a compiled binary stays itself), then the agent's arguments and `extra`.
 *
 * @param args The agent's arguments (Deno.args).
 * @param extra Arguments to add at the end.
 * @returns The executable and its arguments.
 */
export function reexecCommand(
  args: string[],
  extra: string[],
): { command: string; args: string[] } {
  const argv = procfs.readTextFileSync("/proc/self/cmdline").split("\0");
  if (argv[argv.length - 1] === "") argv.pop();
  const runtime = argv.slice(1, Math.max(1, argv.length - args.length));
  return { command: Deno.execPath(), args: [...runtime, ...args, ...extra] };
}
