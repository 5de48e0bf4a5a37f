// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * {@link InterpMaps} over libbpf: pid_to_interp. Closed together with the object that owns the
 * fd; every call after that throws {@link MapsClosedError} before any syscall.
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

  /** @param fd pid_to_interp (owned by the BPF object; not closed here). */
  constructor(fd: number) {
    this.#fd = fd;
  }

  /** @inheritdoc */
  get closed(): boolean {
    return this.#closed;
  }

  /** @inheritdoc */
  setProcess(pid: number, info: Uint8Array<ArrayBuffer>): void {
    if (this.#closed) throw new MapsClosedError("store a process's interpreter");
    this.#key[0] = pid;
    const rc = libbpf().bpf_map_update_elem(this.#fd, this.#key, info, 0n);
    if (rc < 0) throw new NativeError("store a process's interpreter in BPF", -rc);
  }

  /** @inheritdoc */
  deleteProcess(pid: number): boolean {
    if (this.#closed) throw new MapsClosedError("delete a process's interpreter");
    this.#key[0] = pid;
    return deleteMapElement(this.#fd, new Uint8Array(this.#key.buffer));
  }

  /** Refuses every later call. Called by the object before it closes the fds. */
  close(): void {
    this.#closed = true;
  }
}
