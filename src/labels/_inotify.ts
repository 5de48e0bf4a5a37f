// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// A directory watch on inotify through libc, read without blocking from a timer.
//
// Deno.watchFs cannot be used for the config file's directory: once a FIFO appears in a watched
// directory its watcher thread blocks (no event is delivered, close() never ends the stream;
// reproduced with Deno 2.9.6), and a local user who can create files beside the config could
// freeze config reloads and shutdown that way. A non-blocking inotify descriptor read every
// `pollMs` has no such failure: it only reports names, and opens nothing.

import { closeSync, inotifyAddWatch, inotifyInit, readSync } from "../procfs/mod.ts";

/** inotify_init1 flags. */
export const IN_NONBLOCK = 0o4000;
export const IN_CLOEXEC = 0o2000000;
/** Everything that can change which file a path names or what it holds. */
const MASK = 0x2 /* MODIFY */ | 0x4 /* ATTRIB */ | 0x8 /* CLOSE_WRITE */ | 0x40 /* MOVED_FROM */ |
  0x80 /* MOVED_TO */ | 0x100 /* CREATE */ | 0x200 /* DELETE */ | 0x400 /* DELETE_SELF */ |
  0x800; /* MOVE_SELF */
const ONLYDIR = 0x1000000;

/** Watches directories; calls `onChange` (at most once per poll) when anything in them changes. */
export class DirectoryWatch {
  readonly #fd: number;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #buf = new Uint8Array(8192);
  #closed = false;

  /**
   * @param dirs Directories to watch (those that cannot be watched are skipped).
   * @param onChange Called after a poll that found events.
   * @param pollMs How often the descriptor is read.
   * @throws {Error} When no inotify instance can be made.
   */
  constructor(dirs: readonly string[], onChange: () => void, pollMs = 100) {
    try {
      this.#fd = inotifyInit(IN_NONBLOCK | IN_CLOEXEC);
    } catch (e) {
      throw new Error(`Cannot watch the config directory: ${(e as Error).message}`);
    }
    let watched = 0;
    for (const d of dirs) {
      try {
        inotifyAddWatch(this.#fd, d, MASK | ONLYDIR);
        watched++;
      } catch {
        // Skipped, as documented: the others are still watched.
      }
    }
    if (watched === 0) {
      closeSync(this.#fd);
      throw new Error(`Cannot watch ${dirs.join(", ")}: inotify_add_watch failed`);
    }
    this.#timer = setInterval(() => {
      if (this.#drain()) onChange();
    }, pollMs);
    // The watch alone must not keep the agent alive.
    Deno.unrefTimer(this.#timer);
  }

  /** Reads every pending event; true when there was any. */
  #drain(): boolean {
    if (this.#closed) return false;
    let any = false;
    for (;;) {
      let n: number;
      try {
        n = readSync(this.#fd, this.#buf);
      } catch {
        return any; // EAGAIN: nothing more.
      }
      if (n <= 0) return any;
      any = true;
    }
  }

  /** Stops watching; safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    closeSync(this.#fd);
  }
}
