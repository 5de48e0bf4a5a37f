// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import type { ExecutableMapping } from "../process/mod.ts";
import type { FileSource } from "./native.ts";
import { fileKey } from "./profile.ts";

/**
 * Which processes were last seen mapping each file, so a file can still be opened (through
 * another process) after the process a profile came from has exited. Bounded: a few processes
 * per file, a fixed number of files, least recently seen first out.
 *
 * @example
 * ```ts
 * import { SourceIndex } from "./sources.ts";
 * const index = new SourceIndex();
 * const file = { key: "fe:01:1234:8192:1700000000", buildId: "ab", buildIdKind: "gnu" as const,
 *   loads: [], data: new Map() };
 * index.note(42, [{ start: 0x1000, limit: 0x2000, offset: 0, path: "/bin/x", buildId: "ab",
 *   buildIdKind: "gnu", special: false, deleted: false, file }]);
 * console.assert(index.sources("file:fe:01:1234:8192:1700000000")[0].pid === 42);
 * ```
 */
export class SourceIndex {
  readonly #byKey = new Map<string, FileSource[]>();
  readonly #maxFiles: number;
  readonly #perFile: number;

  /**
   * @param maxFiles Files remembered at most.
   * @param perFile Processes remembered per file.
   */
  constructor(maxFiles = 4096, perFile = 4) {
    this.#maxFiles = maxFiles;
    this.#perFile = perFile;
  }

  /**
   * Records the file-backed mappings of a process.
   *
   * @param pid The process.
   * @param mappings Its executable mappings.
   */
  note(pid: number, mappings: readonly ExecutableMapping[]): void {
    for (const m of mappings) {
      if (m.special) continue;
      const key = fileKey(m);
      if (key === undefined) continue;
      let list = this.#byKey.get(key);
      if (list) this.#byKey.delete(key);
      else list = [];
      const at = list.findIndex((s) => s.pid === pid);
      if (at >= 0) list.splice(at, 1);
      list.unshift({
        pid,
        start: m.start,
        limit: m.limit,
        path: m.path,
        buildId: m.buildId,
        buildIdKind: m.buildIdKind,
      });
      if (list.length > this.#perFile) list.length = this.#perFile;
      this.#byKey.set(key, list);
      if (this.#byKey.size > this.#maxFiles) this.#byKey.delete(this.#byKey.keys().next().value!);
    }
  }

  /**
   * The processes last seen mapping a file, most recent first.
   *
   * @param key The file's {@link fileKey}.
   * @returns Ways to open it.
   */
  sources(key: string): FileSource[] {
    return this.#byKey.get(key) ?? [];
  }
}
