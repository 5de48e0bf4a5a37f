// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The local store: each per-process profile becomes
 * `DIR/<pid>_<profile name>_<unix nanos>.pb.gz` (gzip pprof), written to a temporary name in the
 * same directory and renamed, so a reader never sees a partial file.
 *
 * @module
 */

import { getLogger } from "../log/mod.ts";
import { metrics } from "../metrics/mod.ts";

const log = getLogger("store");

/** One profile to store. */
export interface StoredProfile {
  pid: number;
  /** The profile name (`__name__`), e.g. parca_agent_cpu. */
  name: string;
  /** Window start, nanoseconds since the epoch (the profile's time_nanos). */
  timeNanos: bigint;
  /** gzip-compressed pprof bytes. */
  pprof: Uint8Array;
}

/** Writes profiles into a directory. */
export class LocalStore {
  readonly directory: string;
  #seq = 0;

  private constructor(directory: string) {
    this.directory = directory;
  }

  /**
   * Creates the directory if missing and proves it is writable.
   *
   * @param directory The `--local-store-directory` value.
   * @returns The store.
   * @throws {Error} One line naming the directory and the cause, when it cannot be used.
   */
  static async open(directory: string): Promise<LocalStore> {
    try {
      await Deno.mkdir(directory, { recursive: true, mode: 0o755 });
      const probe = `${directory}/.write-test-${Deno.pid}`;
      await Deno.writeFile(probe, new Uint8Array(), { mode: 0o600 });
      await Deno.remove(probe);
    } catch (e) {
      throw new Error(
        `Cannot use --local-store-directory "${directory}": ${(e as Error).message}`,
        { cause: e },
      );
    }
    return new LocalStore(directory);
  }

  /**
   * The file name a profile is stored under.
   *
   * @param p The profile.
   * @returns `<pid>_<name>_<unix nanos>.pb.gz`.
   */
  static fileName(p: Pick<StoredProfile, "pid" | "name" | "timeNanos">): string {
    return `${p.pid}_${p.name}_${p.timeNanos}.pb.gz`;
  }

  /**
   * Writes one profile atomically. Failures are logged and counted, never thrown: a full disk
   * must not stop profiling.
   *
   * @param p The profile.
   * @returns The path written, or undefined when writing failed.
   */
  async write(p: StoredProfile): Promise<string | undefined> {
    const path = `${this.directory}/${LocalStore.fileName(p)}`;
    const tmp = `${this.directory}/.${LocalStore.fileName(p)}.${Deno.pid}.${this.#seq++}.tmp`;
    try {
      await Deno.writeFile(tmp, p.pprof, { mode: 0o644 });
      await Deno.rename(tmp, path);
      metrics.profilesWritten.inc({ store: "local" });
      return path;
    } catch (e) {
      metrics.errors.inc({ kind: "local_store_write" });
      log.error("cannot write profile", { path, error: (e as Error).message });
      await Deno.remove(tmp).catch(() => {});
      return undefined;
    }
  }
}
