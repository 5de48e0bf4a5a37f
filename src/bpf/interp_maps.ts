// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * {@link InterpMaps} over libbpf: pid_to_interp. Closed together with the object that owns the
 * fd; every call after that throws {@link MapsClosedError} before any syscall.
 *
 * This class is the only writer of pid_to_interp, so it knows when the map is empty and says so
 * in active_generation[1] (bpf/maps.h): 1 before the first entry goes in, 0 after the last one
 * went, and BPF skips its pid_to_interp look-up per sample while it reads 0. Set before the
 * entry and cleared after it, so BPF never skips an entry that is in the map.
 *
 * @module
 */

import { libbpf, NativeError } from "./ffi.ts";
import { deleteMapElement } from "./maps.ts";
import { type InterpMaps, MapsClosedError } from "./sampler.ts";

/** The interpreter walkers' map of a loaded {@link ProfilerObject}. */
export class LibbpfInterpMaps implements InterpMaps {
  readonly #fd: number;
  #closed = false;
  readonly #key = new Uint32Array(1);
  readonly #generationFd: number;
  /** Pids this class stored and has not deleted: what pid_to_interp holds. */
  readonly #pids = new Set<number>();
  /** What active_generation[1] holds (0 at load). */
  #flag = 0;
  readonly #flagKey = new Uint32Array([1]);
  readonly #flagValue = new Uint32Array(1);

  /**
   * @param fd pid_to_interp (owned by the BPF object; not closed here).
   * @param generationFd active_generation, whose element 1 says whether pid_to_interp is empty.
   */
  constructor(fd: number, generationFd: number) {
    this.#fd = fd;
    this.#generationFd = generationFd;
  }

  #setFlag(value: number): void {
    this.#flagValue[0] = value;
    const rc = libbpf().bpf_map_update_elem(this.#generationFd, this.#flagKey, this.#flagValue, 0n);
    if (rc < 0) throw new NativeError("tell BPF whether a process has an interpreter", -rc);
    this.#flag = value;
  }

  /** @inheritdoc */
  get closed(): boolean {
    return this.#closed;
  }

  /** @inheritdoc */
  setProcess(pid: number, info: Uint8Array<ArrayBuffer>): void {
    if (this.#closed) throw new MapsClosedError("store a process's interpreter");
    // First the flag, then the entry: BPF never skips an entry that is in the map.
    if (this.#flag === 0) this.#setFlag(1);
    this.#key[0] = pid;
    const rc = libbpf().bpf_map_update_elem(this.#fd, this.#key, info, 0n);
    if (rc < 0) throw new NativeError("store a process's interpreter in BPF", -rc);
    this.#pids.add(pid);
  }

  /** @inheritdoc */
  deleteProcess(pid: number): boolean {
    if (this.#closed) throw new MapsClosedError("delete a process's interpreter");
    this.#key[0] = pid;
    const deleted = deleteMapElement(this.#fd, new Uint8Array(this.#key.buffer));
    this.#pids.delete(pid);
    // The entry is gone: with none left, BPF may skip the look-up. A failed write leaves the
    // flag at 1, which only costs BPF the look-up.
    if (this.#pids.size === 0 && this.#flag === 1) {
      try {
        this.#setFlag(0);
      } catch {
        // kept at 1
      }
    }
    return deleted;
  }

  /** Refuses every later call. Called by the object before it closes the fds. */
  close(): void {
    this.#closed = true;
  }
}
