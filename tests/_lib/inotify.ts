// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// For tests: watches files with inotify and says whether anything opened or read them, so a test
// can prove that the agent never opened a file (O_PATH resolution does not count as an open).

import { IN_CLOEXEC, IN_NONBLOCK } from "../../src/labels/_inotify.ts";
import { closeSync, inotifyAddWatch, inotifyInit, readSync } from "../../src/procfs/mod.ts";

const IN_ACCESS = 0x1;
const IN_OPEN = 0x20;

/** Opens and reads of watched files, as seen by inotify. */
export class OpenWatch implements Disposable {
  readonly #fd: number;
  readonly #paths = new Map<number, string>();

  /** @param paths Files (or device nodes) to watch; each must exist. */
  constructor(paths: string[]) {
    this.#fd = inotifyInit(IN_NONBLOCK | IN_CLOEXEC);
    for (const p of paths) this.#paths.set(inotifyAddWatch(this.#fd, p, IN_OPEN | IN_ACCESS), p);
  }

  /** The watched paths opened or read since the last call, with the event. */
  events(): string[] {
    const out: string[] = [];
    const buf = new Uint8Array(4096);
    for (;;) {
      let n: number;
      try {
        n = readSync(this.#fd, buf);
      } catch {
        return out; // EAGAIN: nothing more.
      }
      if (n <= 0) return out;
      const v = new DataView(buf.buffer, 0, n);
      for (let off = 0; off + 16 <= n;) {
        const wd = v.getInt32(off, true);
        const mask = v.getUint32(off + 4, true);
        const len = v.getUint32(off + 12, true);
        const what = mask & IN_OPEN ? "open" : "read";
        out.push(`${what} ${this.#paths.get(wd)}`);
        off += 16 + len;
      }
    }
  }

  [Symbol.dispose](): void {
    closeSync(this.#fd);
  }
}
