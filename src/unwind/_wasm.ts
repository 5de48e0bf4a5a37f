// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Loader of the `wasm-unwind` WebAssembly module (`wasm-unwind/lib/wasm_unwind.wasm`, built by
 * `wasm-unwind/build.sh`) and the only code that touches its ABI. The ABI is plain exported
 * functions over linear memory; `wasm-unwind/README.md` documents it.
 *
 * @module
 */

import { decodeUnwindTable, type UnwindTable } from "./table.ts";
import { WasmErrorCode } from "./table.ts";

/** The ABI version this loader speaks. */
export const WASM_UNWIND_ABI_VERSION = 1;

/** Default location of the module, next to the sources that build it. */
export const DEFAULT_WASM_UNWIND_URL: URL = new URL(
  "../../wasm-unwind/lib/wasm_unwind.wasm",
  import.meta.url,
);

/** Names of the module's error codes (`wasm-unwind/src/error.rs`); codes are never reused. */
export const WASM_UNWIND_ERRORS: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(WasmErrorCode).map(([name, code]) => [
    code,
    // snake_case of the Rust variant; "gopclntab" is one word.
    name.replace("GoPclntab", "Gopclntab").replace(/(?<=[a-z])([A-Z])/g, "_$1").toLowerCase(),
  ]),
);

/** An error reported by the module (a code and a message), not a bug in the caller. */
export class WasmUnwindError extends Error {
  /** The module's error code (see {@link WASM_UNWIND_ERRORS}). */
  readonly code: number;
  /** The code's name, e.g. `corrupt_cfi`; suitable as a metric label. */
  readonly codeName: string;

  /**
   * @param action What was attempted, e.g. `build unwind table`.
   * @param code The module's error code.
   * @param detail The module's message.
   */
  constructor(action: string, code: number, detail: string) {
    super(`Cannot ${action}: ${detail}`);
    this.name = "WasmUnwindError";
    this.code = code;
    this.codeName = WASM_UNWIND_ERRORS[code] ?? `unknown_${code}`;
  }
}

/** An executable `PT_LOAD` segment. */
export interface ExecSegment {
  /** `p_offset`. */
  offset: number;
  /** `p_vaddr`. */
  vaddr: number;
  /** `p_filesz`. */
  filesz: number;
  /** `p_memsz`. */
  memsz: number;
  /** `p_flags` (1 X, 2 W, 4 R). */
  flags: number;
}

/** Facts about an ELF file, as `elf_facts` reports them. */
export interface ElfFacts {
  /** 32 or 64. */
  class: number;
  /** Byte order. */
  littleEndian: boolean;
  /** `e_machine` (62 = x86-64). */
  machine: number;
  /** `REL`, `EXEC`, `DYN`, `CORE`, `NONE` or `UNKNOWN(n)`. */
  type: string;
  /** `e_entry`. */
  entry: number;
  /** Hex build ID (GNU note, else the bytes of the Go build ID); null: hash `.text` instead. */
  buildId: string | null;
  /** Where `buildId` came from. */
  buildIdKind: "gnu" | "go" | null;
  /** The Go build ID string when `buildIdKind` is `go`. */
  goBuildId: string | null;
  /** No `PT_INTERP` and no `DT_NEEDED`. */
  static: boolean;
  /** The `PT_INTERP` path. */
  interp: string | null;
  /** `DT_NEEDED` names. */
  needed: string[];
  /** A dynamic section or segment exists. */
  hasDynamic: boolean;
  /** No `.symtab` and no `.debug_info`. */
  stripped: boolean;
  /** `.symtab` exists. */
  hasSymtab: boolean;
  /** `.dynsym` exists. */
  hasDynsym: boolean;
  /** `.debug_info` (or `.zdebug_info`) has bytes. */
  hasDebugInfo: boolean;
  /** `.eh_frame` has bytes. */
  hasEhFrame: boolean;
  /** `.debug_frame` has bytes. */
  hasDebugFrame: boolean;
  /** First string of `.comment`. */
  compiler: string | null;
  /** File name in `.gnu_debuglink`. */
  debuglink: string | null;
  /** `.text` address, file offset and size. */
  text: { addr: number; offset: number; size: number } | null;
  /** Executable `PT_LOAD` segments. */
  execSegments: ExecSegment[];
  /** Problems with optional parts of the file that did not stop parsing. */
  warnings: string[];
}

interface Exports {
  memory: WebAssembly.Memory;
  abi_version(): number;
  alloc(len: number): number;
  dealloc(ptr: number, len: number): void;
  elf_facts(ptr: number, len: number): number;
  unwind_table(ptr: number, len: number): number;
  unwind_table_sparse?(ptr: number, len: number): number;
  strip_debuginfo?(ptr: number, len: number, flags: number): number;
  symbolizer_open?(ptr: number, len: number): number;
  symbolize?(handle: number, ptr: number, count: number): number;
  symbolizer_close?(handle: number): void;
  heap_bytes?(): number;
  go_describe?(ptr: number, len: number, pcsPtr: number, pcsLen: number, mode: number): number;
  result_len(): number;
  result_free(): void;
  last_error_code(): number;
  error_message(): number;
  error_message_len(): number;
}

const decoder = new TextDecoder();

/**
 * One instance of the module. Not reentrant: use one per worker. Linear memory only grows,
 * so a worker that processed a huge file may want a fresh instance afterwards
 * ({@link WasmUnwind.memoryBytes} tells).
 */
/** A positioned read of the file being built: fills `buf` from file offset `pos`, returns bytes read. */
export type ReadFileAt = (buf: Uint8Array, pos: number) => number;

export class WasmUnwind {
  #exports: Exports;
  /** Reads of the file whose compact image is being built ({@link WasmUnwind.unwindTableSparse}). */
  #readFile: ReadFileAt | undefined;

  private constructor(exports: Exports) {
    this.#exports = exports;
  }

  /** The module's `env.read_file` import: a positioned read into linear memory, or -1. */
  #hostRead(dst: number, len: number, lo: number, hi: number): number {
    const read = this.#readFile;
    if (!read) return -1;
    try {
      const buf = new Uint8Array(this.#exports.memory.buffer, dst >>> 0, len >>> 0);
      return read(buf, (hi >>> 0) * 2 ** 32 + (lo >>> 0));
    } catch {
      return -1;
    }
  }

  /**
   * Compiles the module from a file.
   *
   * @param path The `.wasm` file.
   * @returns The compiled module (transferable to workers).
   *
   * @example
   * ```ts ignore
   * const module = await WasmUnwind.compile();
   * ```
   */
  static async compile(path: string | URL = DEFAULT_WASM_UNWIND_URL): Promise<WebAssembly.Module> {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await Deno.readFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.PermissionDenied) throw e;
      throw new Error(`Cannot load wasm-unwind from ${path}: run 'bash wasm-unwind/build.sh'`, {
        cause: e,
      });
    }
    return await WebAssembly.compile(bytes);
  }

  /**
   * Instantiates a compiled module (or compiles and instantiates the file at `source`).
   *
   * @param source A compiled module, or the path of the `.wasm` file.
   * @returns A ready instance.
   * @throws {Error} When the module's ABI version differs from {@link WASM_UNWIND_ABI_VERSION}.
   *
   * @example
   * ```ts ignore
   * const wasm = await WasmUnwind.load();
   * const facts = wasm.elfFacts(await Deno.readFile("/lib/x86_64-linux-gnu/libc.so.6"));
   * ```
   */
  static async load(
    source: WebAssembly.Module | string | URL = DEFAULT_WASM_UNWIND_URL,
  ): Promise<WasmUnwind> {
    const module = source instanceof WebAssembly.Module ? source : await WasmUnwind.compile(source);
    // The instance's own reads of a file while it builds (unwind_table_sparse's import).
    const made: { unwind?: WasmUnwind } = {};
    const env = {
      read_file: (dst: number, len: number, lo: number, hi: number) =>
        made.unwind === undefined ? -1 : made.unwind.#hostRead(dst, len, lo, hi),
    };
    const instance = await WebAssembly.instantiate(module, { env });
    const exports = instance.exports as unknown as Exports;
    const version = exports.abi_version();
    if (version !== WASM_UNWIND_ABI_VERSION) {
      throw new Error(
        `Cannot use wasm-unwind: ABI version ${version}, expected ${WASM_UNWIND_ABI_VERSION} (rebuild with 'bash wasm-unwind/build.sh')`,
      );
    }
    made.unwind = new WasmUnwind(exports);
    return made.unwind;
  }

  /** Current size of the instance's linear memory in bytes. */
  get memoryBytes(): number {
    return this.#exports.memory.buffer.byteLength;
  }

  /**
   * Reads the facts of an ELF file.
   *
   * @param file The whole file.
   * @returns The facts.
   * @throws {WasmUnwindError} When the file is not a readable ELF file.
   *
   * @example
   * ```ts ignore
   * wasm.elfFacts(bytes).buildId;
   * ```
   */
  elfFacts(file: Uint8Array): ElfFacts {
    return this.#withInput(file, (ptr, len) => this.#factsAt(ptr, len));
  }

  /**
   * Builds the unwind table of an x86-64 ELF file and returns its serialized form (a fresh
   * buffer, transferable between workers).
   *
   * @param file The whole file.
   * @returns The serialized table (see `table.ts`).
   * @throws {WasmUnwindError} When the file has no usable CFI, is corrupt, or hits a limit.
   *
   * @example
   * ```ts ignore
   * const bytes = wasm.unwindTableBytes(file);
   * ```
   */
  unwindTableBytes(file: Uint8Array): Uint8Array {
    return this.#withInput(file, (ptr, len) => this.#tableAt(ptr, len));
  }

  /**
   * Builds the unwind table of a file from an image that `write` puts straight into linear
   * memory (no copy of it on the JavaScript heap): the whole file, or a compact image
   * (`src/unwind/_cfi_sections.ts`), whose missing bytes (Go functions' code) wasm-unwind reads
   * from the file through `readFile`, a bounded window at a time, during the call.
   *
   * @param write Writes the image into the buffer it asks `alloc` for (once) and says whether
   * it is the whole file; the image may be shorter than what it asked for.
   * @param readFile Positioned reads of the file (used only while building a compact image).
   * @returns The serialized table, as {@link WasmUnwind.unwindTableBytes} returns it.
   * @throws {WasmUnwindError} As {@link WasmUnwind.unwindTableBytes}, and `out_of_memory` when
   * the image does not fit.
   *
   * @example
   * ```ts ignore
   * const table = await wasm.unwindTableSparse((alloc) => readCfiImage(readAt, size, alloc), pread);
   * ```
   */
  unwindTableSparse(
    write: (alloc: (len: number) => Uint8Array) => Promise<{ image: Uint8Array; whole: boolean }>,
    readFile: ReadFileAt,
  ): Promise<Uint8Array>;
  /**
   * As {@link WasmUnwind.unwindTableSparse}, handing the serialized table to `take` while it is
   * still in linear memory (no copy of it is made; the view is invalid once `take` returns).
   *
   * @param write As above.
   * @param readFile As above.
   * @param take Reads the table (e.g. packs its rows); what it returns is returned.
   * @returns What `take` returns.
   */
  unwindTableSparse<T>(
    write: (alloc: (len: number) => Uint8Array) => Promise<{ image: Uint8Array; whole: boolean }>,
    readFile: ReadFileAt,
    take: (serialized: Uint8Array) => T,
  ): Promise<T>;
  async unwindTableSparse(
    write: (alloc: (len: number) => Uint8Array) => Promise<{ image: Uint8Array; whole: boolean }>,
    readFile: ReadFileAt,
    take: (serialized: Uint8Array) => unknown = copyOut,
  ): Promise<unknown> {
    const e = this.#exports;
    const sparse = e.unwind_table_sparse;
    if (!sparse) {
      throw new Error(
        "Cannot build from a compact image: the wasm-unwind module predates unwind_table_sparse (rebuild with 'bash wasm-unwind/build.sh')",
      );
    }
    let ptr = 0;
    let size = -1;
    const alloc = (len: number) => {
      if (size >= 0) throw new Error("unwindTableSparse: the image is allocated once");
      size = len;
      ptr = len === 0 ? 0 : e.alloc(len);
      if (len !== 0 && ptr === 0) {
        throw new WasmUnwindError(
          "read the file into wasm-unwind",
          7,
          `out of memory for ${len} bytes`,
        );
      }
      return new Uint8Array(e.memory.buffer, ptr, len);
    };
    try {
      const { image, whole } = await write(alloc);
      if (image.length > 0 && (image.buffer !== e.memory.buffer || image.byteOffset !== ptr)) {
        throw new Error("unwindTableSparse: the image is not where alloc put it");
      }
      if (whole) {
        return this.#result("build unwind table", e.unwind_table(ptr, image.length), take);
      }
      this.#readFile = readFile;
      try {
        return this.#result("build unwind table", sparse(ptr, image.length), take);
      } finally {
        this.#readFile = undefined;
      }
    } finally {
      if (ptr !== 0) e.dealloc(ptr, size);
    }
  }

  /**
   * Builds and decodes the unwind table of an x86-64 ELF file.
   *
   * @param file The whole file.
   * @returns The decoded table.
   * @throws {WasmUnwindError} When the file has no usable CFI, is corrupt, or hits a limit.
   *
   * @example
   * ```ts ignore
   * const table = wasm.unwindTable(file);
   * ```
   */
  unwindTable(file: Uint8Array): UnwindTable {
    return decodeUnwindTable(this.unwindTableBytes(file));
  }

  /**
   * Facts and table of one file, copying it into the module once. The table is an error
   * when it cannot be built; the facts throw as {@link WasmUnwind.elfFacts} does.
   *
   * @param file The whole file.
   * @returns The facts, and the serialized table or the reason there is none.
   *
   * @example
   * ```ts ignore
   * const { facts, table } = wasm.analyze(file);
   * ```
   */
  analyze(file: Uint8Array): { facts: ElfFacts; table: Uint8Array | WasmUnwindError } {
    return this.#withInput(file, (ptr, len) => {
      const facts = this.#factsAt(ptr, len);
      let table: Uint8Array | WasmUnwindError;
      try {
        table = this.#tableAt(ptr, len);
      } catch (e) {
        if (!(e instanceof WasmUnwindError)) throw e;
        table = e;
      }
      return { facts, table };
    });
  }

  /**
   * Strips an ELF64 little-endian file for debuginfo upload: DWARF, symbol tables, notes, Go
   * tables and PLT/relocation sections keep their contents, every other section becomes
   * `SHT_NOBITS`; with `compress`, DWARF sections are zlib-compressed (`SHF_COMPRESSED`).
   * `wasm-unwind/src/strip.rs` documents the layout.
   *
   * @param file The whole file.
   * @param opts `compress`: zlib the `.debug_*` sections (`--debuginfo-compress`); `keepAll`:
   * keep every section's contents (compression only).
   * @returns The new file (a fresh buffer, transferable between workers).
   * @throws {WasmUnwindError} When the file is not a readable ELF64 little-endian file.
   *
   * @example
   * ```ts ignore
   * const small = wasm.stripDebuginfo(file, { compress: true });
   * ```
   */
  stripDebuginfo(file: Uint8Array, opts: { compress: boolean; keepAll?: boolean }): Uint8Array {
    const strip = this.#exports.strip_debuginfo;
    if (!strip) {
      throw new Error(
        "Cannot strip debuginfo: the wasm-unwind module predates strip_debuginfo (rebuild with 'bash wasm-unwind/build.sh')",
      );
    }
    const flags = (opts.compress ? 1 : 0) | (opts.keepAll ? 2 : 0);
    return this.#withInput(
      file,
      (ptr, len) => this.#result("strip debuginfo", strip(ptr, len, flags)),
    );
  }

  /**
   * Loads a section bundle (`wasm-unwind/src/symbolize.rs`: symbol tables, DWARF and the
   * executable sections' addresses of a binary and its debug file) into a new symbolizer.
   *
   * @param bundle The bundle; copied into the module, which keeps it until
   * {@link WasmUnwind.symbolizerClose}.
   * @returns The symbolizer's handle.
   * @throws {WasmUnwindError} `no_symbols` when the bundle has no function symbol and no DWARF,
   * `invalid_elf` when it is malformed, `out_of_memory`.
   *
   * @example
   * ```ts ignore
   * const h = wasm.symbolizerOpen(bundle);
   * const frames = wasm.symbolize(h, new BigUint64Array([0x1139n]));
   * wasm.symbolizerClose(h);
   * ```
   */
  symbolizerOpen(bundle: Uint8Array): number {
    const e = this.#exports;
    if (!e.symbolizer_open) {
      throw new Error(
        "Cannot symbolize: the wasm-unwind module predates symbolizer_open (rebuild with 'bash wasm-unwind/build.sh')",
      );
    }
    const len = bundle.length;
    const ptr = len === 0 ? 0 : e.alloc(len);
    if (len !== 0 && ptr === 0) {
      throw new WasmUnwindError("load symbols", 7, `out of memory for ${len} bytes`);
    }
    if (ptr !== 0) new Uint8Array(e.memory.buffer, ptr, len).set(bundle);
    // The module owns the buffer from here on, whatever the outcome.
    const handle = e.symbolizer_open(ptr, len);
    if (handle === 0) this.#result("load symbols", 0);
    return handle;
  }

  /**
   * Names ELF virtual addresses with an open symbolizer.
   *
   * @param handle From {@link WasmUnwind.symbolizerOpen}.
   * @param addrs ELF virtual addresses (load bias removed).
   * @returns The encoded frames (`SYR1`, decoded by `src/symbolize`), a fresh buffer.
   * @throws {WasmUnwindError} `bad_handle` for a closed handle.
   *
   * @example
   * ```ts ignore
   * const bytes = wasm.symbolize(handle, new BigUint64Array([0x1139n]));
   * ```
   */
  symbolize(handle: number, addrs: BigUint64Array): Uint8Array {
    const fn = this.#exports.symbolize!;
    const bytes = new Uint8Array(addrs.buffer, addrs.byteOffset, addrs.byteLength);
    return this.#withInput(
      bytes,
      (ptr) => this.#result("symbolize", fn(handle, ptr, addrs.length)),
    );
  }

  /**
   * Frees a symbolizer and its bundle; unknown handles are ignored.
   *
   * @param handle From {@link WasmUnwind.symbolizerOpen}.
   *
   * @example
   * ```ts ignore
   * wasm.symbolizerClose(handle);
   * ```
   */
  symbolizerClose(handle: number): void {
    this.#exports.symbolizer_close?.(handle);
  }

  /** Bytes allocated inside the module and not freed (its symbolizers above all). */
  get heapBytes(): number {
    return this.#exports.heap_bytes?.() ?? 0;
  }

  /**
   * Describes the `.gopclntab` of a Go binary as text (`wasm-unwind/src/gopclntab.rs`,
   * `describe`): a header line, then the frames of each PC (innermost first, inlined calls
   * included) or, with `mode` 1, every function.
   *
   * @param file The whole file.
   * @param pcs Exact PCs (ELF virtual addresses) to describe.
   * @param mode 0: frames per PC; 1: every function.
   * @returns The report's lines.
   * @throws {WasmUnwindError} When the file is not a Go binary or its table is corrupt.
   *
   * @example
   * ```ts ignore
   * const lines = wasm.goDescribe(file, [0x401000n]);
   * ```
   */
  goDescribe(file: Uint8Array, pcs: readonly bigint[], mode = 0): string[] {
    const describe = this.#exports.go_describe;
    if (!describe) {
      throw new Error(
        "Cannot describe a Go table: the wasm-unwind module predates go_describe (rebuild with 'bash wasm-unwind/build.sh')",
      );
    }
    const raw = new Uint8Array(new BigUint64Array(pcs).buffer);
    const e = this.#exports;
    const pcsPtr = raw.length === 0 ? 0 : e.alloc(raw.length);
    try {
      if (pcsPtr !== 0) new Uint8Array(e.memory.buffer, pcsPtr, raw.length).set(raw);
      const out = this.#withInput(
        file,
        (ptr, len) =>
          this.#result("describe a Go table", describe(ptr, len, pcsPtr, raw.length, mode)),
      );
      return decoder.decode(out).split("\n").filter((l) => l !== "");
    } finally {
      if (pcsPtr !== 0) e.dealloc(pcsPtr, raw.length);
    }
  }

  #factsAt(ptr: number, len: number): ElfFacts {
    const json = this.#result("read ELF facts", this.#exports.elf_facts(ptr, len));
    return JSON.parse(decoder.decode(json)) as ElfFacts;
  }

  #tableAt(ptr: number, len: number): Uint8Array {
    return this.#result("build unwind table", this.#exports.unwind_table(ptr, len));
  }

  /** Copies the input into linear memory, runs `fn`, frees the input. */
  #withInput<T>(file: Uint8Array, fn: (ptr: number, len: number) => T): T {
    const e = this.#exports;
    const len = file.length;
    const ptr = len === 0 ? 0 : e.alloc(len);
    if (len !== 0 && ptr === 0) {
      throw new WasmUnwindError(
        "copy the file into wasm-unwind",
        7,
        `out of memory for ${len} bytes`,
      );
    }
    try {
      new Uint8Array(e.memory.buffer, ptr, len).set(file);
      return fn(ptr, len);
    } finally {
      if (ptr !== 0) e.dealloc(ptr, len);
    }
  }

  /** Copies the last result out (or throws its error) and frees it. */
  #result(action: string, ptr: number): Uint8Array;
  /** Hands the last result to `take` (or throws its error) and frees it. */
  #result<T>(action: string, ptr: number, take: (result: Uint8Array) => T): T;
  #result(
    action: string,
    ptr: number,
    take: (result: Uint8Array) => unknown = copyOut,
  ): unknown {
    const e = this.#exports;
    if (ptr === 0) {
      const code = e.last_error_code();
      const message = decoder.decode(
        new Uint8Array(e.memory.buffer, e.error_message(), e.error_message_len()).slice(),
      );
      throw new WasmUnwindError(action, code, message);
    }
    // The buffer is re-read after the call: memory growth detaches the old one.
    try {
      return take(new Uint8Array(e.memory.buffer, ptr, e.result_len()));
    } finally {
      e.result_free();
    }
  }
}

/** A result copied out of linear memory (a fresh buffer, transferable between workers). */
function copyOut(view: Uint8Array): Uint8Array {
  return view.slice();
}
