// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The loaded CPU sampler (bpf/profiler.bpf.c): open, size the maps, load, attach one perf event
 * per CPU, and, once per window, flip the active generation and drain the idle one with batch
 * map operations. Everything is released by `close()`, and the kernel releases it by itself if
 * the process dies: nothing is pinned, so perf events and programs live only as long as our fds.
 *
 * @module
 */

import { getLogger } from "../log/mod.ts";
import { cstr, errno, errnoName, libbpf, libc, NativeError } from "./ffi.ts";
import { routeLibbpfLog } from "./libbpf_log.ts";
import { openCpuClockEvent } from "./perf_event.ts";
import { readProgramStats } from "./prog_stats.ts";
import { RingBuffer } from "./ring_buffer.ts";
import {
  MapsClosedError,
  type ProcessEvent,
  type ProcessInstance,
  type Sampler,
} from "./sampler.ts";
import {
  AGENT_CONFIG,
  COUNT_SLOT,
  COUNT_SLOTS,
  COUNTER_NAMES,
  COUNTERS_SIZE,
  EVENT,
  KERNEL_STACK,
  MAX_KERNEL_STACK_DEPTH,
  MAX_UNWIND_TABLES,
  MAX_USER_STACK_DEPTH,
  PROCESS_INSTANCE,
  STACK_COUNT_KEY,
  USER_STACK,
  USER_STACK_SHORT,
  USER_STACK_SHORT_DEPTH,
} from "./types.ts";
import { LibbpfUnwindMaps } from "./unwind_maps.ts";
import { LibbpfInterpMaps } from "./interp_maps.ts";
import { addSlotCounts, countEntry } from "./count_slots.ts";

const log = getLogger("bpf");
const ENOENT = 2;
const ENOSPC = 28;
const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLLIN = 1;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;

/** Options of {@link ProfilerObject.open}. */
export interface ProfilerObjectOptions {
  /** Path of profiler.bpf.o. */
  objectPath: string;
  /** max_entries of each stack_counts map (distinct pid/tid/stack keys per window). */
  countEntries: number;
  /** max_entries of each stacks map (distinct stacks per window). */
  stackEntries: number;
  /** Turns on bpf_printk of each decision in the BPF program. */
  verbose: boolean;
  /** Walk user stacks with unwind tables (false: frame pointers only, no events). */
  dwarfEnabled: boolean;
  /** Frame pointers for JIT (anonymous) code; false makes such frames an unwind error. */
  mixedMode: boolean;
  /** Size of the events ring buffer in bytes (a power of two, a multiple of the page size). */
  eventsBufferBytes: number;
  /** Minimum time between two events about one process, in nanoseconds. */
  eventIntervalNs?: bigint;
  /** Time the interpreter walk in BPF (counter interp_ns); costs two clock reads per activation. */
  interpTiming?: boolean;
}

/** One drained entry of a stack_counts map. */
export interface CountEntry {
  pid: number;
  tid: number;
  userStackId: bigint;
  kernelStackId: bigint;
  threadComm: string;
  processComm: string;
  flags: number;
  /** enum unwind_error: why the user walk ended early (0: it did not). */
  unwindError: number;
  /** The process image the sample was taken in (process_instance.id); 0 when unknown. */
  instance: number;
  count: number;
}

/** What one window's drain returns. */
export interface DrainResult {
  entries: CountEntry[];
  /** User stack id -> addresses, leaf first. */
  userStacks: Map<bigint, BigUint64Array>;
  /** Kernel stack id -> addresses, leaf first. */
  kernelStacks: Map<bigint, BigUint64Array>;
  /** Failed batch operations (the window is still returned with what was read). */
  errors: Array<{ map: string; error: string }>;
}

/** File descriptors of the maps user space touches; index = generation. */
interface MapFds {
  counts: [number, number];
  userStacks: [number, number];
  /** The user stacks of at most USER_STACK_SHORT_DEPTH frames (bpf/maps.h). */
  userStacksShort: [number, number];
  kernelStacks: [number, number];
  generation: number;
  counters: number;
  pidToMappings: number;
  unwindChunks: number;
  unwindTables: number;
  unwindTableIndex: number;
  unwindRules: number;
  events: number;
  pidToInstance: number;
  pidToInterp: number;
  /** Per-CPU recent counts, one element per generation (bpf/maps.h count_slots). */
  countSlots: number;
}

/** One stacks map kind: its value layout and depth. */
interface StackKind {
  name: string;
  size: number;
  depth: number;
}

const USER: StackKind = { name: "user_stacks", size: USER_STACK.size, depth: MAX_USER_STACK_DEPTH };
const USER_SHORT: StackKind = {
  name: "user_stacks_short",
  size: USER_STACK_SHORT.size,
  depth: USER_STACK_SHORT_DEPTH,
};
const KERNEL: StackKind = {
  name: "kernel_stacks",
  size: KERNEL_STACK.size,
  depth: MAX_KERNEL_STACK_DEPTH,
};

/** Programs attached to tracepoints for as long as the object is loaded (bpf/process.h). */
const TRACEPOINT_PROGRAMS = ["on_exec", "on_exit"];

/** The loaded sampler and its attached perf events. */
export class ProfilerObject implements Sampler {
  #obj: Deno.PointerObject | null;
  #prog: Deno.PointerObject;
  #links: Deno.PointerObject[] = [];
  #tracepointLinks: Deno.PointerObject[] = [];
  #unwindMaps: LibbpfUnwindMaps;
  #interpMaps: LibbpfInterpMaps;
  #ring: RingBuffer | undefined;
  #eventsBufferBytes: number;
  #epollFd = -1;
  /** An eventfd in the epoll set: {@link wakeWaiter} writes it to end a wait early. */
  #wakeFd = -1;
  #epollEvents = new Uint8Array(12 * 4);
  #waiting: Promise<number> | undefined;
  #wakeCounter = new Uint8Array(8);
  #instanceKey = new Uint32Array(1);
  #instanceValue = new Uint8Array(PROCESS_INSTANCE.size);
  #perfFds: number[] = [];
  #generation = 0;
  /** Windows flipped so far (mod 2^32), what active_generation[0] holds; its parity is #generation. */
  #window = 0;
  #fds: MapFds;
  #countEntries: number;
  #stackEntries: number;
  // Drain buffers, allocated once and reused every window.
  #countKeys: Uint8Array<ArrayBuffer>;
  #countValues: BigUint64Array<ArrayBuffer>;
  #stackBatch = 256;
  #stackKeys: BigUint64Array<ArrayBuffer>;
  #stackValues: Uint8Array<ArrayBuffer>;
  #batchIn = new Uint8Array(8);
  #batchOut = new Uint8Array(8);
  #batchCount = new Uint32Array(1);
  #possibleCpus: number;
  #countersValue: Uint8Array<ArrayBuffer>;
  /** count_slots[g] of every CPU (one per-CPU lookup per window). */
  #slotsValue: Uint8Array<ArrayBuffer>;

  private constructor(
    obj: Deno.PointerObject,
    prog: Deno.PointerObject,
    fds: MapFds,
    countEntries: number,
    stackEntries: number,
    eventsBufferBytes: number,
  ) {
    this.#obj = obj;
    this.#eventsBufferBytes = eventsBufferBytes;
    this.#unwindMaps = new LibbpfUnwindMaps({
      pidToMappings: fds.pidToMappings,
      unwindChunks: fds.unwindChunks,
      unwindTables: fds.unwindTables,
      unwindTableIndex: fds.unwindTableIndex,
      unwindRules: fds.unwindRules,
      maxRules: 65536,
      maxTables: MAX_UNWIND_TABLES - 1,
    });
    this.#interpMaps = new LibbpfInterpMaps(fds.pidToInterp, fds.generation);
    this.#prog = prog;
    this.#fds = fds;
    this.#countEntries = countEntries;
    this.#stackEntries = stackEntries;
    this.#countKeys = new Uint8Array(countEntries * STACK_COUNT_KEY.size);
    this.#countValues = new BigUint64Array(countEntries);
    this.#stackKeys = new BigUint64Array(this.#stackBatch);
    this.#stackValues = new Uint8Array(this.#stackBatch * USER_STACK.size);
    this.#possibleCpus = libbpf().libbpf_num_possible_cpus();
    this.#countersValue = new Uint8Array(this.#possibleCpus * COUNTERS_SIZE);
    this.#slotsValue = new Uint8Array(this.#possibleCpus * COUNT_SLOTS * COUNT_SLOT.size);
  }

  /**
   * Opens and loads the BPF object with maps sized for the host.
   *
   * @param opts Object path, map sizes and verbosity.
   * @returns The loaded object, not yet attached.
   * @throws {NativeError} When bpf() is not permitted or the verifier rejects the program.
   */
  static open(opts: ProfilerObjectOptions): ProfilerObject {
    routeLibbpfLog();
    const b = libbpf();
    // Read by Deno, not by libbpf: in a `deno compile` binary the object is an embedded file,
    // which only Deno's file API can read.
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = Deno.readFileSync(opts.objectPath);
    } catch (e) {
      throw new Error(
        `Cannot open BPF object ${opts.objectPath}: ${(e as Error).message}; run the set-up ` +
          `(make -C bpf)`,
        { cause: e },
      );
    }
    // struct bpf_object_open_opts { size_t sz; const char *object_name; ... }: the name shown by
    // bpftool for the object's internal maps (profiler.rodata, ...).
    const name = cstr("profiler");
    const openOpts = new BigUint64Array([
      16n,
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(name))),
    ]);
    const obj = b.bpf_object__open_mem(
      bytes,
      BigInt(bytes.length),
      new Uint8Array(openOpts.buffer),
    );
    if (!obj) {
      const code = errno();
      throw new NativeError(
        `open BPF object ${opts.objectPath}`,
        code,
        "run the set-up (make -C bpf)",
      );
    }
    // libelf reads the buffer in place until the load: these stay referenced until then.
    const keepAlive: unknown[] = [bytes, name];
    try {
      const map = (name: string): Deno.PointerObject => {
        const m = b.bpf_object__find_map_by_name(obj, cstr(name));
        if (!m) {
          throw new Error(
            `Cannot find map ${name} in ${opts.objectPath}: the object is stale, rebuild it`,
          );
        }
        return m;
      };
      for (const name of ["stack_counts_0", "stack_counts_1"]) {
        b.bpf_map__set_max_entries(map(name), opts.countEntries);
      }
      for (
        const name of [
          "user_stacks_0",
          "user_stacks_1",
          "user_stacks_short_0",
          "user_stacks_short_1",
          "kernel_stacks_0",
          "kernel_stacks_1",
        ]
      ) {
        b.bpf_map__set_max_entries(map(name), opts.stackEntries);
      }
      b.bpf_map__set_max_entries(map("events"), opts.eventsBufferBytes);
      const size = new BigUint64Array(1);
      const value = b.bpf_map__initial_value(map(".rodata.config"), size);
      if (!value || size[0] < BigInt(AGENT_CONFIG.size)) {
        throw new Error(
          `Cannot set the BPF options: .rodata.config is missing in ${opts.objectPath}`,
        );
      }
      const config = new DataView(
        Deno.UnsafePointerView.getArrayBuffer(value, AGENT_CONFIG.size),
      );
      config.setUint8(AGENT_CONFIG.verbose, opts.verbose ? 1 : 0);
      config.setUint8(AGENT_CONFIG.dwarfEnabled, opts.dwarfEnabled ? 1 : 0);
      config.setUint8(AGENT_CONFIG.mixedMode, opts.mixedMode ? 1 : 0);
      config.setUint8(AGENT_CONFIG.interpTiming, opts.interpTiming ? 1 : 0);
      config.setBigUint64(AGENT_CONFIG.eventIntervalNs, opts.eventIntervalNs ?? 500_000_000n, true);
      const rc = b.bpf_object__load(obj);
      keepAlive.length = 0;
      if (rc < 0) {
        const code = -rc;
        // EPERM: no privilege. EACCES and E2BIG come from the verifier rejecting the program.
        const hint = code === 1
          ? "bpf() is not permitted: run as root, or grant CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)"
          : "the kernel's verifier rejected it; run with --log-level=debug to see its log";
        throw new NativeError("load the BPF program", code, hint);
      }
      const prog = b.bpf_object__find_program_by_name(obj, cstr("profile_cpu"));
      if (!prog) throw new Error(`Cannot find program profile_cpu in ${opts.objectPath}`);
      const fd = (name: string) => b.bpf_map__fd(map(name));
      const fds: MapFds = {
        counts: [fd("stack_counts_0"), fd("stack_counts_1")],
        userStacks: [fd("user_stacks_0"), fd("user_stacks_1")],
        userStacksShort: [fd("user_stacks_short_0"), fd("user_stacks_short_1")],
        kernelStacks: [fd("kernel_stacks_0"), fd("kernel_stacks_1")],
        generation: fd("active_generation"),
        counters: fd("counters"),
        pidToMappings: fd("pid_to_mappings"),
        unwindChunks: fd("unwind_chunks"),
        unwindTables: fd("unwind_tables"),
        unwindTableIndex: fd("unwind_table_index"),
        unwindRules: fd("unwind_rules"),
        events: fd("events"),
        pidToInstance: fd("pid_to_instance"),
        pidToInterp: fd("pid_to_interp"),
        countSlots: fd("count_slots"),
      };
      log.debug("loaded BPF object", {
        path: opts.objectPath,
        countEntries: opts.countEntries,
        stackEntries: opts.stackEntries,
      });
      const loaded = new ProfilerObject(
        obj,
        prog,
        fds,
        opts.countEntries,
        opts.stackEntries,
        opts.eventsBufferBytes,
      );
      try {
        loaded.#attachTracepoints();
      } catch (e) {
        loaded.close();
        throw e;
      }
      return loaded;
    } catch (e) {
      b.bpf_object__close(obj);
      throw e;
    }
  }

  /** The exec and exit tracepoints: without them exec and pid reuse are still told apart
   * (by start time and the walker's instance check), but images end only when seen replaced. */
  #attachTracepoints(): void {
    const b = libbpf();
    for (const name of TRACEPOINT_PROGRAMS) {
      const prog = b.bpf_object__find_program_by_name(this.#obj, cstr(name));
      if (!prog) {
        throw new Error(`Cannot find program ${name}: the BPF object is stale, rebuild it`);
      }
      const link = b.bpf_program__attach(prog);
      if (!link) throw new NativeError(`attach the BPF program ${name} to its tracepoint`, errno());
      this.#tracepointLinks.push(link);
    }
  }

  /** The program's fd, for run statistics in /proc/self/fdinfo. */
  get programFd(): number {
    return libbpf().bpf_program__fd(this.#prog);
  }

  /** @inheritdoc */
  get unwindMaps(): LibbpfUnwindMaps {
    return this.#unwindMaps;
  }

  /** @inheritdoc */
  programStats(): { runs: number; runTimeNs: number } {
    if (!this.#obj) throw new MapsClosedError("read program stats");
    return readProgramStats(this.programFd);
  }

  /** @inheritdoc */
  consumeEvents(onEvent: (e: ProcessEvent) => void): number {
    if (!this.#obj) return 0;
    this.#ring ??= new RingBuffer(this.#fds.events, this.#eventsBufferBytes);
    return this.#ring.consume((view, off, len) => {
      if (len < EVENT.size) return;
      onEvent({
        type: view.getUint32(off + EVENT.type, true),
        pid: view.getUint32(off + EVENT.pid, true),
        ktimeNs: view.getBigUint64(off + EVENT.ktimeNs, true),
        instance: view.getUint32(off + EVENT.instance, true),
        execGeneration: view.getUint32(off + EVENT.execGen, true),
        startNs: view.getBigUint64(off + EVENT.startNs, true),
      });
    });
  }

  /** @inheritdoc */
  async waitForEvents(timeoutMs: number): Promise<void> {
    if (!this.#obj) return;
    const c = libc();
    if (this.#epollFd < 0) {
      const ep = c.epoll_create1(EPOLL_CLOEXEC);
      if (ep < 0) throw new NativeError("create an epoll instance for BPF events", errno());
      const wake = c.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      if (wake < 0) {
        const code = errno();
        c.close(ep);
        throw new NativeError("create an eventfd to wake the BPF events wait", code);
      }
      // struct epoll_event is packed on x86-64: u32 events, u64 data (0: events, 1: wake-up).
      for (const [fd, data] of [[this.#fds.events, 0n], [wake, 1n]] as const) {
        const ev = new Uint8Array(12);
        const v = new DataView(ev.buffer);
        v.setUint32(0, EPOLLIN, true);
        v.setBigUint64(4, data, true);
        if (c.epoll_ctl(ep, EPOLL_CTL_ADD, fd, ev) < 0) {
          const code = errno();
          c.close(ep);
          c.close(wake);
          throw new NativeError("watch the BPF events ring buffer", code);
        }
      }
      this.#epollFd = ep;
      this.#wakeFd = wake;
    }
    // The wait sleeps in the kernel on Deno's blocking thread: no wake-up at all while no event
    // comes when the timeout is infinite (-1).
    const timeout = Number.isFinite(timeoutMs) ? Math.max(0, Math.trunc(timeoutMs)) : -1;
    this.#waiting = c.epoll_wait(this.#epollFd, this.#epollEvents, 4, timeout);
    try {
      const n = await this.#waiting;
      const v = new DataView(this.#epollEvents.buffer);
      for (let i = 0; i < n; i++) {
        if (v.getBigUint64(i * 12 + 4, true) === 1n && this.#wakeFd >= 0) {
          c.read(this.#wakeFd, this.#wakeCounter, 8n); // reset the counter (nonblocking)
        }
      }
    } finally {
      this.#waiting = undefined;
    }
  }

  /** @inheritdoc */
  get eventsPending(): boolean {
    return this.#ring?.pending ?? false;
  }

  /** @inheritdoc */
  wakeWaiter(): void {
    if (this.#wakeFd < 0) return;
    new DataView(this.#wakeCounter.buffer).setBigUint64(0, 1n, true);
    libc().write(this.#wakeFd, this.#wakeCounter, 8n);
  }

  /** @inheritdoc */
  instanceOf(pid: number): ProcessInstance | undefined {
    if (!this.#obj) return undefined;
    this.#instanceKey[0] = pid;
    const rc = libbpf().bpf_map_lookup_elem(
      this.#fds.pidToInstance,
      this.#instanceKey,
      this.#instanceValue,
    );
    if (rc < 0) return undefined;
    const v = new DataView(this.#instanceValue.buffer);
    return {
      startNs: v.getBigUint64(PROCESS_INSTANCE.startNs, true),
      id: v.getUint32(PROCESS_INSTANCE.id, true),
      execGeneration: v.getUint32(PROCESS_INSTANCE.execGen, true),
    };
  }

  /** @inheritdoc */
  get interpMaps(): LibbpfInterpMaps {
    return this.#interpMaps;
  }

  /** Map capacities, for metrics and the status page. */
  get capacity(): { countEntries: number; stackEntries: number } {
    return { countEntries: this.#countEntries, stackEntries: this.#stackEntries };
  }

  /**
   * Opens a cpu-clock perf event on each CPU and attaches the program to it.
   *
   * @param cpus CPU numbers (the online ones).
   * @param frequencyHz Samples per second per CPU.
   * @throws {NativeError} On the first CPU that fails; events attached so far are detached.
   */
  attach(cpus: number[], frequencyHz: number): void {
    const b = libbpf();
    try {
      for (const cpu of cpus) {
        const pfd = openCpuClockEvent(cpu, frequencyHz);
        this.#perfFds.push(pfd);
        const link = b.bpf_program__attach_perf_event(this.#prog, pfd);
        if (!link) {
          const code = errno();
          throw new NativeError(`attach the BPF program to the perf event of CPU ${cpu}`, code);
        }
        this.#links.push(link);
      }
    } catch (e) {
      this.detach();
      throw e;
    }
    log.debug("attached perf events", { cpus: cpus.length, frequencyHz });
  }

  /** Detaches the program from every perf event and closes them. Idempotent. */
  detach(): void {
    const b = libbpf();
    for (const link of this.#links) b.bpf_link__destroy(link);
    this.#links = [];
    for (const fd of this.#perfFds) libc().close(fd);
    this.#perfFds = [];
  }

  /**
   * Makes BPF write into the other generation, waits for programs still writing into this one,
   * and drains it: every count (one batch call for the whole map) and every stack (batches of
   * 1024). The drained maps are left empty for the window after next.
   *
   * @returns The window's counts and stacks.
   */
  async flipAndDrain(): Promise<DrainResult> {
    if (!this.#obj) throw new MapsClosedError("drain the sampler's maps");
    const drained = this.#generation;
    const drainedWindow = this.#window;
    // BPF writes into generation (window & 1); the whole window number lets it tell this
    // window's stacks from those of two windows ago (its per-CPU cache of stored stacks).
    const next = (this.#window + 1) >>> 0;
    const key = new Uint32Array([0]);
    const value = new Uint32Array([next]);
    const rc = libbpf().bpf_map_update_elem(this.#fds.generation, key, value, 0n);
    const errors: DrainResult["errors"] = [];
    if (rc < 0) {
      // Keep draining: BPF keeps writing into the same generation, so some samples of this
      // window land in the next drain instead; none are lost.
      errors.push({ map: "active_generation", error: errnoName(-rc) });
    } else {
      this.#window = next;
      this.#generation = next & 1;
      // A perf_event program runs for microseconds with preemption disabled; 5 ms is ample for
      // every program that read the old generation to finish writing into it.
      await new Promise((r) => setTimeout(r, 5));
    }
    const entries = this.#drainCounts(this.#fds.counts[drained], errors);
    // The per-CPU slots of the drained generation hold the rest of its counts. Only after a
    // flip: while BPF still writes into this generation its slots are being written too.
    if (rc >= 0) this.#drainSlots(drained, drainedWindow, entries, errors);
    const userStacks = this.#drainStacks(this.#fds.userStacks[drained], USER, errors);
    // Each stack is in one of the two user maps (by its length): one map for the window.
    this.#drainStacks(this.#fds.userStacksShort[drained], USER_SHORT, errors, userStacks);
    const kernelStacks = this.#drainStacks(this.#fds.kernelStacks[drained], KERNEL, errors);
    return { entries, userStacks, kernelStacks, errors };
  }

  #drainCounts(fd: number, errors: DrainResult["errors"]): CountEntry[] {
    const b = libbpf();
    const entries: CountEntry[] = [];
    let first = true;
    for (;;) {
      this.#batchCount[0] = this.#countEntries;
      const rc = b.bpf_map_lookup_and_delete_batch(
        fd,
        first ? null : this.#batchIn,
        this.#batchOut,
        this.#countKeys,
        this.#countValues,
        this.#batchCount,
        null,
      );
      const n = this.#batchCount[0];
      const view = new DataView(this.#countKeys.buffer);
      for (let i = 0; i < n; i++) {
        entries.push(
          countEntry(this.#countKeys, view, i * STACK_COUNT_KEY.size, Number(this.#countValues[i])),
        );
      }
      if (rc === -ENOENT) break; // the last batch: the map is empty now
      if (rc < 0) {
        errors.push({ map: "stack_counts", error: errnoName(-rc) });
        log.debug("stack_counts batch read failed", { error: errnoName(-rc) });
        break;
      }
      this.#batchIn.set(this.#batchOut);
      first = false;
    }
    return entries;
  }

  /**
   * Adds the counts the per-CPU slots of generation `gen` hold for window `window` to `entries`
   * (summed into an entry of the same key, so each key is one entry). Slots of other windows are
   * empty: BPF reuses them without reading their counts.
   */
  #drainSlots(
    gen: number,
    window: number,
    entries: CountEntry[],
    errors: DrainResult["errors"],
  ): void {
    const rc = libbpf().bpf_map_lookup_elem(
      this.#fds.countSlots,
      new Uint32Array([gen]),
      this.#slotsValue,
    );
    if (rc < 0) {
      errors.push({ map: "count_slots", error: errnoName(-rc) });
      return;
    }
    addSlotCounts(this.#slotsValue, this.#possibleCpus * COUNT_SLOTS, window, entries);
  }

  #drainStacks(
    fd: number,
    kind: StackKind,
    errors: DrainResult["errors"],
    stacks = new Map<bigint, BigUint64Array>(),
  ): Map<bigint, BigUint64Array> {
    const b = libbpf();
    let first = true;
    for (;;) {
      this.#batchCount[0] = this.#stackBatch;
      const rc = b.bpf_map_lookup_and_delete_batch(
        fd,
        first ? null : this.#batchIn,
        this.#batchOut,
        this.#stackKeys,
        this.#stackValues,
        this.#batchCount,
        null,
      );
      if (rc === -ENOSPC && this.#batchCount[0] === 0) {
        // One hash bucket holds more entries than a batch: grow the batch and retry.
        this.#stackBatch *= 2;
        this.#stackKeys = new BigUint64Array(this.#stackBatch);
        this.#stackValues = new Uint8Array(this.#stackBatch * USER_STACK.size);
        continue;
      }
      const n = this.#batchCount[0];
      // Values are packed at the map's value size: 8-byte words, so a BigUint64Array view fits.
      const words = new BigUint64Array(this.#stackValues.buffer);
      const stride = kind.size / 8;
      for (let i = 0; i < n; i++) {
        const base = i * stride;
        const len = Math.min(Number(words[base]), kind.depth);
        stacks.set(this.#stackKeys[i], words.slice(base + 1, base + 1 + len));
      }
      if (rc === -ENOENT) break;
      if (rc < 0) {
        errors.push({ map: kind.name, error: errnoName(-rc) });
        log.debug("stacks batch read failed", { map: kind.name, error: errnoName(-rc) });
        break;
      }
      this.#batchIn.set(this.#batchOut);
      first = false;
    }
    return stacks;
  }

  /**
   * Reads the outcome counters, summed over CPUs. They only grow; callers take differences.
   *
   * @returns Counter name -> total since load.
   */
  readCounters(): Map<string, number> {
    if (!this.#obj) throw new MapsClosedError("read the BPF counters");
    const totals = new Map<string, number>();
    const rc = libbpf().bpf_map_lookup_elem(
      this.#fds.counters,
      new Uint32Array([0]),
      this.#countersValue,
    );
    if (rc < 0) throw new NativeError("read the BPF counters", -rc);
    const words = new BigUint64Array(this.#countersValue.buffer);
    const stride = COUNTERS_SIZE / 8; // per-CPU values are each rounded up to 8 bytes; ours already are
    COUNTER_NAMES.forEach((name, i) => {
      let sum = 0;
      for (let cpu = 0; cpu < this.#possibleCpus; cpu++) sum += Number(words[cpu * stride + i]);
      totals.set(name, sum);
    });
    return totals;
  }

  /**
   * Detaches and unloads everything. Idempotent. The unwind maps are marked closed first, so
   * a table load still in flight is refused instead of writing to a closed (or reused) fd.
   */
  close(): void {
    this.detach();
    this.#unwindMaps.close();
    this.#interpMaps.close();
    const ep = this.#epollFd;
    const wake = this.#wakeFd;
    const closeFds = () => {
      if (ep >= 0) libc().close(ep);
      if (wake >= 0) libc().close(wake);
    };
    if (this.#waiting) {
      // An epoll_wait is still running on the blocking thread: wake it, and close the fds when
      // it is back, not under it.
      this.wakeWaiter();
      this.#waiting.finally(closeFds);
    } else {
      closeFds();
    }
    this.#epollFd = -1;
    this.#wakeFd = -1;
    const b = libbpf();
    for (const link of this.#tracepointLinks) b.bpf_link__destroy(link);
    this.#tracepointLinks = [];
    this.#ring?.close();
    this.#ring = undefined;
    if (this.#obj) {
      libbpf().bpf_object__close(this.#obj);
      this.#obj = null;
    }
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
