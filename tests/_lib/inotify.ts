// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// For tests: watches files with inotify and says whether anything opened or read them, so a test
// can prove that the agent never opened a file (O_PATH resolution does not count as an open).

import { IN_CLOEXEC, IN_NONBLOCK, INOTIFY_SYMBOLS } from "../../src/labels/_inotify.ts";

const IN_ACCESS = 0x1;
const IN_OPEN = 0x20;

/** Opens and reads of watched files, as seen by inotify. */
export class OpenWatch implements Disposable {
  readonly #lib = Deno.dlopen("libc.so.6", INOTIFY_SYMBOLS);
  readonly #fd: number;
  readonly #paths = new Map<number, string>();

  /** @param paths Files (or device nodes) to watch; each must exist. */
  constructor(paths: string[]) {
    this.#fd = this.#lib.symbols.inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (this.#fd < 0) throw new Error("inotify_init1 failed");
    for (const p of paths) {
      const wd = this.#lib.symbols.inotify_add_watch(
        this.#fd,
        new TextEncoder().encode(p + "\0"),
        IN_OPEN | IN_ACCESS,
      );
      if (wd < 0) throw new Error(`inotify_add_watch ${p} failed`);
      this.#paths.set(wd, p);
    }
  }

  /** The watched paths opened or read since the last call, with the event. */
  events(): string[] {
    const out: string[] = [];
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = Number(this.#lib.symbols.read(this.#fd, buf, BigInt(buf.length)));
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
    this.#lib.symbols.close(this.#fd);
    this.#lib.close();
  }
}
