// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { create } from "@bufbuild/protobuf";
import {
  FunctionSchema,
  LabelSchema,
  LineSchema,
  type Location,
  LocationSchema,
  MappingSchema,
  type Profile,
  ProfileSchema,
  type Sample,
  SampleSchema,
  ValueTypeSchema,
} from "../gen/perftools/profiles/profile_pb.ts";

/** One executable mapping of the profiled process, as read from `/proc/PID/maps`. */
export interface MappingInput {
  /** First address of the mapping. */
  start: number;
  /** One past the last address. */
  limit: number;
  /** File offset that `start` maps. */
  offset: number;
  /** Object path, or a pseudo-path such as `[vdso]`. */
  path: string;
  /** Hex GNU/Go build ID, or "" when unknown. */
  buildId: string;
  /** Not backed by a regular file (`[vdso]`, anonymous JIT code). */
  special?: boolean;
}

/** One aggregated stack of one thread. */
export interface SampleInput {
  /** Thread id (kernel pid of the thread). */
  tid: number;
  /** Thread name (`comm`). */
  threadName: string;
  /** How many times this stack was sampled in the window. */
  count: number;
  /** User frame addresses, leaf first. */
  user: ArrayLike<number>;
  /** Kernel frame addresses, leaf first. */
  kernel: ArrayLike<bigint>;
  /** Synthetic outermost frame, e.g. `[truncated]` or `[unwind error: pc not covered]`. */
  marker?: string;
  /**
   * Interpreter frames (Python, Ruby) of this stack. A negative entry `-1 - k` of `user` stands
   * for `interp[k]`, at its place among the native frames.
   */
  interp?: readonly InterpFrameInput[];
}

/** An interpreter frame as BPF recorded it (see src/interp): kind, object address, data word. */
export interface InterpFrameInput {
  kind: number;
  addr: number;
  data: bigint;
}

/** A function frame named in the agent: interpreter frames, JIT code. */
export interface SourceFrameName {
  name: string;
  /** File name; "" when unknown (JIT code). */
  file: string;
  /** Current line; 0 when unknown. */
  line: number;
  /** First line of the function; 0 when unknown. */
  startLine: number;
}

/** Names the interpreter frames of one process (src/interp). */
export interface InterpSymbolizer {
  /**
   * @param frame The frame BPF recorded.
   * @returns Its function and current line, or undefined when it cannot be read.
   */
  frame(frame: InterpFrameInput): SourceFrameName | undefined;
  /**
   * @param kind The interpreter kind.
   * @returns The frame shown for frames of that kind that cannot be read, e.g. `[python]`.
   */
  unknown(kind: number): string;
}

/** Names JIT code of one process (perf maps, jitdump: src/symbolize). */
export interface JitSymbolizer {
  /**
   * @param addr An address outside every file-backed mapping.
   * @returns The function's name, or undefined.
   */
  lookup(addr: number): string | undefined;
}

/** Everything one process produced in one profiling window. */
export interface ProfileInput {
  /** Window start, nanoseconds since the Unix epoch. */
  startNanos: bigint;
  /** Window length in nanoseconds. */
  durationNanos: bigint;
  /** Sampling frequency per CPU, in Hz. */
  frequencyHz: number;
  /** Executable mappings; the caller puts the main executable first. */
  mappings: MappingInput[];
  /** Stacks; identical (stack, tid) pairs are merged. */
  samples: SampleInput[];
}

/** Names kernel addresses; `KernelSymbols` from `src/symbolize` fits. */
export interface KernelSymbolizer {
  /** Symbol index for an address, or -1. */
  lookup(addr: bigint): number;
  /** Name of a symbol index. */
  name(index: number): string;
}

/** Names vDSO offsets; `VdsoSymbols` from `src/symbolize` fits. */
export interface VdsoSymbolizer {
  /** Function name at an offset into the `[vdso]` mapping, or undefined. */
  lookup(offsetInVdso: number): string | undefined;
}

/** Local symbolizers; a missing one leaves its frames unnamed. */
export interface Symbolizers {
  /** Names kernel frames; without it they are named by their hex address. */
  kernel?: KernelSymbolizer;
  /** Names frames in the `[vdso]` mapping; without it they are bare addresses. */
  vdso?: VdsoSymbolizer;
  /** Names interpreter frames; without it they are shown as unknown. */
  interp?: InterpSymbolizer;
  /** Names JIT code (addresses in no file-backed mapping); without it they stay addresses. */
  jit?: JitSymbolizer;
}

/** Filename of the synthetic mapping that kernel locations point to (as perf and Parca name it). */
export const KERNEL_MAPPING_NAME = "[kernel.kallsyms]";
/** Filename that marks the vDSO mapping. */
export const VDSO_MAPPING_NAME = "[vdso]";

/**
 * Builds the pprof profile of one process for one window, in the shape the Parca server accepts.
 *
 * - `sample_type` = samples/count, `period_type` = cpu/nanoseconds, `period` = 1e9 / frequency
 *   truncated as Parca Agent does (52,631,578 at 19 Hz), `time_nanos` = window start.
 * - Mapping, Location and Function ids are 1..N in array order; `string_table[0]` is "".
 * - Locations are leaf first: kernel frames, then user frames, then the marker frame.
 * - Kernel frames get one location per function name in a synthetic `[kernel.kallsyms]` mapping;
 *   vDSO frames are named locally; other user frames are bare addresses in their mapping, for the
 *   server to symbolize from debuginfo; an address in no mapping gets mapping id 0.
 * - Each sample carries string labels `thread_id` and `thread_name` (the server turns string
 *   labels into series labels).
 *
 * Interning tables (strings, functions, locations by address or symbol) live for one call, so a
 * frame seen again costs a map lookup and no allocation.
 *
 * @param input Mappings and aggregated stacks of one process.
 * @param sym Local symbolizers for kernel and vDSO frames.
 * @returns The profile.
 * @throws {RangeError} When the frequency is not positive.
 */
export function buildProfile(input: ProfileInput, sym: Symbolizers): Profile {
  if (!(input.frequencyHz > 0)) {
    throw new RangeError(`Cannot build profile: frequency ${input.frequencyHz} Hz is not positive`);
  }
  return new ProfileBuilder(input, sym).build();
}

/** FNV-1a step over one 32-bit word, for the merge hash of (tid, location ids). */
function mix(h: number, v: number): number {
  return Math.imul(h ^ (v >>> 0), 0x01000193);
}

class ProfileBuilder {
  readonly #input: ProfileInput;
  readonly #sym: Symbolizers;
  readonly #strings: string[] = [""];
  readonly #stringIndex = new Map<string, number>([["", 0]]);
  readonly #profile: Profile;

  // Mapping search: mapping ids sorted by start address.
  #mapStarts = new Float64Array(0);
  #mapLimits = new Float64Array(0);
  #mapIds = new Uint32Array(0);
  #vdsoMappingId = 0;
  #vdsoStart = 0;
  #kernelMappingId = 0n;

  readonly #functionByName = new Map<string, bigint>();
  readonly #locByUserAddr = new Map<number, number>();
  readonly #locByKernelSymbol = new Map<number, number>();
  readonly #locByKernelName = new Map<string, number>();
  readonly #locByUnknownKernelAddr = new Map<bigint, number>();
  readonly #locByMarker = new Map<string, number>();
  readonly #locBySource = new Map<string, number>();
  readonly #locByInterpFrame = new Map<string, number>();
  readonly #functionBySource = new Map<string, bigint>();

  // Sample merging: hash → first sample index, then a collision chain.
  readonly #sampleByHash = new Map<number, number>();
  readonly #sampleNext: number[] = [];
  readonly #sampleTid: number[] = [];
  readonly #tidLabel = new Map<number, bigint>();
  #frames = new Uint32Array(256);

  constructor(input: ProfileInput, sym: Symbolizers) {
    this.#input = input;
    this.#sym = sym;
    this.#profile = create(ProfileSchema, {
      timeNanos: input.startNanos,
      durationNanos: input.durationNanos,
      // Parca Agent computes 1e9 / freq in integer arithmetic; truncating keeps the same period.
      period: BigInt(Math.trunc(1e9 / input.frequencyHz)),
    });
  }

  build(): Profile {
    const p = this.#profile;
    p.sampleType.push(
      create(ValueTypeSchema, { type: this.#str("samples"), unit: this.#str("count") }),
    );
    p.periodType = create(ValueTypeSchema, {
      type: this.#str("cpu"),
      unit: this.#str("nanoseconds"),
    });
    this.#addMappings();
    const keyThreadId = this.#str("thread_id");
    const keyThreadName = this.#str("thread_name");
    for (const s of this.#input.samples) {
      if (!(s.count > 0)) continue; // the server drops zero rows anyway
      const n = this.#resolveFrames(s);
      this.#addSample(s, n, keyThreadId, keyThreadName);
    }
    p.stringTable = this.#strings;
    return p;
  }

  #str(s: string): bigint {
    let i = this.#stringIndex.get(s);
    if (i === undefined) {
      i = this.#strings.length;
      this.#strings.push(s);
      this.#stringIndex.set(s, i);
    }
    return BigInt(i);
  }

  #addMappings(): void {
    const p = this.#profile;
    const ms = this.#input.mappings;
    ms.forEach((m, i) => {
      p.mapping.push(create(MappingSchema, {
        id: BigInt(i + 1),
        memoryStart: BigInt(m.start),
        memoryLimit: BigInt(m.limit),
        fileOffset: BigInt(m.offset),
        filename: this.#str(m.path),
        buildId: this.#str(m.buildId),
      }));
      if (m.path === VDSO_MAPPING_NAME && this.#vdsoMappingId === 0) {
        this.#vdsoMappingId = i + 1;
        this.#vdsoStart = m.start;
      }
    });
    const order = ms.map((_, i) => i).sort((a, b) => ms[a].start - ms[b].start);
    this.#mapStarts = Float64Array.from(order, (i) => ms[i].start);
    this.#mapLimits = Float64Array.from(order, (i) => ms[i].limit);
    this.#mapIds = Uint32Array.from(order, (i) => i + 1);
    if (this.#input.samples.some((s) => s.count > 0 && s.kernel.length > 0)) {
      this.#kernelMappingId = BigInt(p.mapping.length + 1);
      p.mapping.push(create(MappingSchema, {
        id: this.#kernelMappingId,
        filename: this.#str(KERNEL_MAPPING_NAME),
        // Kernel locations carry their function names: nothing for the server to symbolize.
        hasFunctions: true,
      }));
    }
  }

  /** Id of the mapping containing an address, or 0. */
  #mappingOf(addr: number): number {
    const starts = this.#mapStarts;
    let l = 0;
    let r = starts.length;
    while (l < r) {
      const m = (l + r) >>> 1;
      if (starts[m] <= addr) l = m + 1;
      else r = m;
    }
    const i = l - 1;
    return i >= 0 && addr < this.#mapLimits[i] ? this.#mapIds[i] : 0;
  }

  #function(name: string): bigint {
    let id = this.#functionByName.get(name);
    if (id === undefined) {
      const fns = this.#profile.function;
      id = BigInt(fns.length + 1);
      const s = this.#str(name);
      fns.push(create(FunctionSchema, { id, name: s, systemName: s }));
      this.#functionByName.set(name, id);
    }
    return id;
  }

  #sourceFunction(f: SourceFrameName): bigint {
    const key = `${f.name}\0${f.file}\0${f.startLine}`;
    let id = this.#functionBySource.get(key);
    if (id === undefined) {
      const fns = this.#profile.function;
      id = BigInt(fns.length + 1);
      const s = this.#str(f.name);
      fns.push(create(FunctionSchema, {
        id,
        name: s,
        systemName: s,
        filename: this.#str(f.file),
        startLine: BigInt(f.startLine),
      }));
      this.#functionBySource.set(key, id);
    }
    return id;
  }

  /** A location whose line names a function (interpreter or JIT frame): no mapping to resolve. */
  #sourceLocation(f: SourceFrameName, address: bigint): number {
    const key = `${f.name}\0${f.file}\0${f.startLine}\0${f.line}\0${address}`;
    let id = this.#locBySource.get(key);
    if (id === undefined) {
      const locs = this.#profile.location;
      id = locs.length + 1;
      const loc = create(LocationSchema, { id: BigInt(id), mappingId: 0n, address });
      loc.line.push(create(LineSchema, {
        functionId: this.#sourceFunction(f),
        line: BigInt(f.line),
      }));
      locs.push(loc);
      this.#locBySource.set(key, id);
    }
    return id;
  }

  #interpLocation(frame: InterpFrameInput): number {
    const key = `${frame.kind}:${frame.addr}:${frame.data}`;
    let id = this.#locByInterpFrame.get(key);
    if (id === undefined) {
      const named = this.#sym.interp?.frame(frame);
      id = named
        ? this.#sourceLocation(named, 0n)
        : this.#markerLocation(this.#sym.interp?.unknown(frame.kind) ?? "[interpreter]");
      this.#locByInterpFrame.set(key, id);
    }
    return id;
  }

  #newLocation(mappingId: bigint, address: bigint, functionName: string | undefined): number {
    const locs = this.#profile.location;
    const id = locs.length + 1;
    const loc: Location = create(LocationSchema, { id: BigInt(id), mappingId, address });
    if (functionName !== undefined) {
      loc.line.push(create(LineSchema, { functionId: this.#function(functionName) }));
    }
    locs.push(loc);
    return id;
  }

  #kernelLocation(addr: bigint): number {
    const ksym = this.#sym.kernel;
    const index = ksym ? ksym.lookup(addr) : -1;
    if (index < 0) {
      let id = this.#locByUnknownKernelAddr.get(addr);
      if (id === undefined) {
        const name = `0x${addr.toString(16)}`;
        id = this.#locByKernelName.get(name) ??
          this.#newLocation(this.#kernelMappingId, addr, name);
        this.#locByKernelName.set(name, id);
        this.#locByUnknownKernelAddr.set(addr, id);
      }
      return id;
    }
    let id = this.#locByKernelSymbol.get(index);
    if (id === undefined) {
      // Several symbols may share a name (static functions of different files): one location
      // per name, as Parca Agent does, so flame graphs merge them.
      const name = ksym!.name(index);
      id = this.#locByKernelName.get(name);
      if (id === undefined) {
        id = this.#newLocation(this.#kernelMappingId, addr, name);
        this.#locByKernelName.set(name, id);
      }
      this.#locByKernelSymbol.set(index, id);
    }
    return id;
  }

  #userLocation(addr: number): number {
    let id = this.#locByUserAddr.get(addr);
    if (id === undefined) {
      const mappingId = this.#mappingOf(addr);
      let name: string | undefined;
      if (mappingId !== 0 && mappingId === this.#vdsoMappingId && this.#sym.vdso) {
        name = this.#sym.vdso.lookup(addr - this.#vdsoStart);
      }
      const jitName = mappingId === 0 ? this.#sym.jit?.lookup(addr) : undefined;
      id = jitName !== undefined
        ? this.#sourceLocation({ name: jitName, file: "", line: 0, startLine: 0 }, 0n)
        : this.#newLocation(BigInt(mappingId), BigInt(addr), name);
      this.#locByUserAddr.set(addr, id);
    }
    return id;
  }

  #markerLocation(marker: string): number {
    let id = this.#locByMarker.get(marker);
    if (id === undefined) {
      id = this.#newLocation(0n, 0n, marker);
      this.#locByMarker.set(marker, id);
    }
    return id;
  }

  /** Fills the frame scratch with location ids, leaf first; returns how many. */
  #resolveFrames(s: SampleInput): number {
    const total = s.kernel.length + s.user.length + (s.marker ? 1 : 0);
    if (total > this.#frames.length) {
      this.#frames = new Uint32Array(Math.max(total, this.#frames.length * 2));
    }
    const f = this.#frames;
    let n = 0;
    for (let i = 0; i < s.kernel.length; i++) f[n++] = this.#kernelLocation(s.kernel[i]);
    for (let i = 0; i < s.user.length; i++) {
      const a = s.user[i];
      if (a >= 0) f[n++] = this.#userLocation(a);
      else {
        const frame = s.interp?.[-1 - a];
        f[n++] = frame ? this.#interpLocation(frame) : this.#markerLocation("[interpreter]");
      }
    }
    if (s.marker) f[n++] = this.#markerLocation(s.marker);
    return n;
  }

  #addSample(s: SampleInput, n: number, keyThreadId: bigint, keyThreadName: bigint): void {
    const f = this.#frames;
    let h = mix(0x811c9dc5, s.tid);
    for (let i = 0; i < n; i++) h = mix(h, f[i]);
    const samples = this.#profile.sample;
    const first = this.#sampleByHash.get(h);
    for (let k = first ?? -1; k >= 0; k = this.#sampleNext[k]) {
      if (this.#sampleTid[k] === s.tid && sameStack(samples[k], f, n)) {
        samples[k].value[0] += BigInt(s.count);
        return;
      }
    }
    let tidLabel = this.#tidLabel.get(s.tid);
    if (tidLabel === undefined) {
      tidLabel = this.#str(String(s.tid));
      this.#tidLabel.set(s.tid, tidLabel);
    }
    const locationId = new Array<bigint>(n);
    for (let i = 0; i < n; i++) locationId[i] = BigInt(f[i]);
    const sample: Sample = create(SampleSchema, {
      locationId,
      value: [BigInt(s.count)],
      label: [
        create(LabelSchema, { key: keyThreadId, str: tidLabel }),
        create(LabelSchema, { key: keyThreadName, str: this.#str(s.threadName) }),
      ],
    });
    const index = samples.length;
    samples.push(sample);
    this.#sampleTid.push(s.tid);
    this.#sampleNext.push(first ?? -1);
    this.#sampleByHash.set(h, index);
  }
}

function sameStack(s: Sample, f: Uint32Array, n: number): boolean {
  const ids = s.locationId;
  if (ids.length !== n) return false;
  for (let i = 0; i < n; i++) if (Number(ids[i]) !== f[i]) return false;
  return true;
}
