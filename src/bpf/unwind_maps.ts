// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * {@link UnwindMaps} over libbpf: pid_to_mappings, exe_id_to_table (one exact-size inner array
 * per table, filled with one batch call) and unwind_rules. Closed together with the object that
 * owns the fds; every call after that throws {@link MapsClosedError} before any syscall.
 *
 * @module
 */

import { libbpf, libc } from "./ffi.ts";
import { createUnwindTableMap, deleteMapElement, listMapKeysU32 } from "./maps.ts";
import { NativeError } from "./ffi.ts";
import { MapsClosedError, type UnwindMaps, type WalkerMapping } from "./sampler.ts";
import { EXEC_MAPPING, MAX_MAPPINGS_PER_PROCESS, PROCESS_MAPPINGS } from "./types.ts";

/** The fds and capacities {@link LibbpfUnwindMaps} works on. */
export interface LibbpfUnwindMapFds {
  pidToMappings: number;
  exeIdToTable: number;
  unwindRules: number;
  maxRules: number;
  maxTables: number;
}

/**
 * Packs a process's mappings into a struct process_mappings value.
 *
 * @param instance The image the mappings belong to.
 * @param mappings At most MAX_MAPPINGS_PER_PROCESS mappings, sorted by start.
 * @param out Where to write (PROCESS_MAPPINGS.size bytes); zeroed first.
 * @returns `out`.
 */
export function packProcessMappings(
  instance: number,
  mappings: readonly WalkerMapping[],
  out: Uint8Array<ArrayBuffer> = new Uint8Array(PROCESS_MAPPINGS.size),
): Uint8Array<ArrayBuffer> {
  if (mappings.length > MAX_MAPPINGS_PER_PROCESS) {
    throw new RangeError(
      `Cannot store ${mappings.length} mappings: BPF keeps ${MAX_MAPPINGS_PER_PROCESS} at most`,
    );
  }
  out.fill(0);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(PROCESS_MAPPINGS.len, mappings.length, true);
  view.setUint32(PROCESS_MAPPINGS.instance, instance, true);
  mappings.forEach((m, i) => {
    const o = PROCESS_MAPPINGS.mappings + i * EXEC_MAPPING.size;
    view.setBigUint64(o + EXEC_MAPPING.start, BigInt(m.start), true);
    view.setBigUint64(o + EXEC_MAPPING.end, BigInt(m.end), true);
    view.setBigUint64(o + EXEC_MAPPING.tableBias, BigInt.asUintN(64, m.tableBias), true);
    view.setUint32(o + EXEC_MAPPING.exeId, m.exeId, true);
    view.setUint32(o + EXEC_MAPPING.rows, m.rows, true);
    view.setUint32(o + EXEC_MAPPING.kind, m.kind, true);
  });
  return out;
}

/** The unwinder's maps of a loaded {@link ProfilerObject}. */
export class LibbpfUnwindMaps implements UnwindMaps {
  readonly #fds: LibbpfUnwindMapFds;
  #closed = false;
  readonly #pidKey = new Uint32Array(1);
  readonly #value = new Uint8Array(PROCESS_MAPPINGS.size);

  /** @param fds The maps (owned by the BPF object; not closed here). */
  constructor(fds: LibbpfUnwindMapFds) {
    this.#fds = fds;
  }

  /** @inheritdoc */
  get closed(): boolean {
    return this.#closed;
  }

  /** @inheritdoc */
  get maxRules(): number {
    return this.#fds.maxRules;
  }

  /** @inheritdoc */
  get maxTables(): number {
    return this.#fds.maxTables;
  }

  #check(op: string): void {
    if (this.#closed) throw new MapsClosedError(op);
  }

  /** @inheritdoc */
  setProcess(pid: number, instance: number, mappings: readonly WalkerMapping[]): void {
    this.#check("store a process's mappings");
    this.#pidKey[0] = pid;
    packProcessMappings(instance, mappings, this.#value);
    const rc = libbpf().bpf_map_update_elem(this.#fds.pidToMappings, this.#pidKey, this.#value, 0n);
    if (rc < 0) throw new NativeError("store a process's mappings in BPF", -rc);
  }

  /** @inheritdoc */
  deleteProcess(pid: number): boolean {
    this.#check("delete a process's mappings");
    return deleteMapElement(this.#fds.pidToMappings, new Uint8Array(new Uint32Array([pid]).buffer));
  }

  /** @inheritdoc */
  processPids(): number[] {
    this.#check("list processes");
    return listMapKeysU32(this.#fds.pidToMappings);
  }

  /** @inheritdoc */
  loadTable(exeId: number, rows: Uint8Array<ArrayBuffer>): void {
    this.#check("load an unwind table");
    const fd = createUnwindTableMap(rows);
    try {
      const rc = libbpf().bpf_map_update_elem(
        this.#fds.exeIdToTable,
        new Uint32Array([exeId]),
        new Uint32Array([fd]),
        0n,
      );
      if (rc < 0) throw new NativeError(`insert unwind table ${exeId}`, -rc);
    } finally {
      // The outer map holds its own reference to the inner map.
      libc().close(fd);
    }
  }

  /** @inheritdoc */
  deleteTable(exeId: number): void {
    this.#check("delete an unwind table");
    deleteMapElement(this.#fds.exeIdToTable, new Uint8Array(new Uint32Array([exeId]).buffer));
  }

  /** @inheritdoc */
  setRule(index: number, rule: Uint8Array<ArrayBuffer>): void {
    this.#check("store an unwind rule");
    const rc = libbpf().bpf_map_update_elem(
      this.#fds.unwindRules,
      new Uint32Array([index]),
      rule,
      0n,
    );
    if (rc < 0) throw new NativeError(`store unwind rule ${index}`, -rc);
  }

  /** Refuses every later call. Called by the object before it closes the fds. */
  close(): void {
    this.#closed = true;
  }
}
