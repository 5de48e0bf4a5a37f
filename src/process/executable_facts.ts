// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * What the `__meta_process_executable_*` labels say about an executable: part of every file
 * record (see records.ts), read with the same ELF parse as its build ID and load segments.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { buildIdOfImage } from "./elf_build_id.ts";
import type { ElfSource } from "./elf_source.ts";
import { type ElfImage, readElf, SHT_NOBITS } from "./_elf.ts";

/** What the `__meta_process_executable_*` labels say about a process's executable. */
export interface ExecutableFacts {
  /** {@link executableFileId}: 32 hex digits. */
  fileId: string;
  /** GNU build ID, else Go build ID, else a hash of `.text` (lowercase hex); "" if none. */
  buildId: string;
  /** The Go version (`go1.22.1`), else the `.comment` producer string; "" if neither. */
  compiler: string;
  /** True when the file has no PT_INTERP (no dynamic loader: static or static-pie). */
  static: boolean;
  /** True when the file has no `.symtab`. */
  stripped: boolean;
}

/**
 * Reads {@link ExecutableFacts} from an ELF file. This is the seam where the WASM ELF reader of
 * `wasm-unwind/` can replace {@link ElfExecutableInspector}.
 */
export interface ExecutableInspector {
  /**
   * Inspects one file.
   *
   * @param file The executable.
   * @returns Its facts, or undefined when it is not an ELF file this reader understands.
   */
  inspect(file: ElfSource): ExecutableFacts | undefined;
}

const PT_INTERP = 3;
const FILE_ID_CHUNK = 4096;
const MAX_COMMENT = 4096;
const GO_BUILDINFO_MAGIC = "\xff Go buildinf:";

/**
 * The file ID of the OpenTelemetry eBPF profiler (`libpf.FileIDFromExecutableReader`), which
 * Parca Agent v0.32+ puts in `__meta_process_executable_file_id`: SHA-256 over the first 4 KiB,
 * the last 4 KiB and the file size as a big-endian u64, truncated to 16 bytes. It identifies
 * content, not a path or inode, and costs two small reads whatever the file's size.
 *
 * @param file The executable.
 * @returns 32 lowercase hex digits.
 */
export function executableFileId(file: ElfSource): string {
  const h = createHash("sha256");
  h.update(file.readAt(0, FILE_ID_CHUNK));
  h.update(file.readAt(Math.max(0, file.size - FILE_ID_CHUNK), FILE_ID_CHUNK));
  const size = new Uint8Array(8);
  new DataView(size.buffer).setBigUint64(0, BigInt(file.size), false);
  h.update(size);
  return h.digest("hex").slice(0, 32);
}

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder();

function section(image: ElfImage, name: string) {
  return image.sections.find((s) => s.name === name && s.type !== SHT_NOBITS);
}

/** The producer strings of `.comment` (NUL-separated), preferring rustc over the C linker's. */
function commentCompiler(file: ElfSource, image: ElfImage): string {
  const s = section(image, ".comment");
  if (!s || s.size === 0) return "";
  const bytes = file.readAt(s.offset, Math.min(s.size, MAX_COMMENT));
  const entries = utf8.decode(bytes).split("\0").map((e) => e.trim()).filter((e) => e !== "");
  return entries.find((e) => e.startsWith("rustc")) ?? entries[0] ?? "";
}

/** Reads an unsigned LEB128 varint; returns [value, bytes used] or undefined. */
function uvarint(b: Uint8Array, at: number): [number, number] | undefined {
  let v = 0;
  let shift = 0;
  for (let i = at; i < b.length && i < at + 5; i++) {
    v += (b[i] & 0x7f) * 2 ** shift;
    if ((b[i] & 0x80) === 0) return [v, i - at + 1];
    shift += 7;
  }
  return undefined;
}

/** The Go toolchain version from `.go.buildinfo`, as `runtime.Version()` prints it. */
function goVersion(file: ElfSource, image: ElfImage): string | undefined {
  const s = section(image, ".go.buildinfo");
  if (!s) return undefined;
  const head = file.readAt(s.offset, Math.min(s.size, 64 * 1024));
  if (head.length < 32 || latin1.decode(head.subarray(0, 14)) !== GO_BUILDINFO_MAGIC) return "";
  const ptrSize = head[14];
  const flags = head[15];
  if (flags & 2) {
    // Go 1.18+: the version follows the header as a varint-length-prefixed string.
    const len = uvarint(head, 32);
    if (!len || 32 + len[1] + len[0] > head.length) return "";
    return utf8.decode(head.subarray(32 + len[1], 32 + len[1] + len[0]));
  }
  // Before 1.18: a pointer at 16 to a Go string header (pointer, length) in the data segment.
  if (ptrSize !== 4 && ptrSize !== 8) return "";
  const little = (flags & 1) === 0;
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const ptr = (b: DataView, at: number) =>
    ptrSize === 8 ? Number(b.getBigUint64(at, little)) : b.getUint32(at, little);
  const read = (addr: number, n: number): Uint8Array | undefined => {
    const sec = image.sections.find((x) =>
      x.type !== SHT_NOBITS && x.addr > 0 && addr >= x.addr && addr + n <= x.addr + x.size
    );
    if (!sec) return undefined;
    const b = file.readAt(sec.offset + (addr - sec.addr), n);
    return b.length === n ? b : undefined;
  };
  const header = read(ptr(dv, 16), 2 * ptrSize);
  if (!header) return "";
  const hv = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const strLen = ptr(hv, ptrSize);
  if (strLen <= 0 || strLen > 256) return "";
  const str = read(ptr(hv, 0), strLen);
  return str ? utf8.decode(str) : "";
}

/**
 * The TypeScript {@link ExecutableInspector}, over the process module's ELF reader.
 *
 * @example
 * ```ts
 * import { FileElfSource } from "./mod.ts";
 * import { ElfExecutableInspector } from "./executable_facts.ts";
 * using src = FileElfSource.open(Deno.execPath());
 * const facts = new ElfExecutableInspector().inspect(src);
 * console.assert(facts?.buildId !== "" && facts?.static === false);
 * ```
 */
export class ElfExecutableInspector implements ExecutableInspector {
  /**
   * Inspects one file.
   *
   * @param file The executable.
   * @returns Its facts, or undefined when it is not ELF64 little-endian.
   */
  inspect(file: ElfSource): ExecutableFacts | undefined {
    const image = readElf(file);
    if (!image) return undefined;
    return executableFactsOf(file, image);
  }
}

/**
 * {@link ExecutableFacts} of a parsed ELF file.
 *
 * @param file The file.
 * @param image Its parse (from {@link readElf}).
 * @param buildId Its build ID when already computed.
 * @returns The facts.
 */
export function executableFactsOf(
  file: ElfSource,
  image: ElfImage,
  buildId?: string,
): ExecutableFacts {
  const go = goVersion(file, image);
  return {
    fileId: executableFileId(file),
    buildId: buildId ?? buildIdOfImage(file, image)?.id ?? "",
    compiler: go || (go === undefined ? commentCompiler(file, image) : "go"),
    static: !image.programHeaders.some((p) => p.type === PT_INTERP),
    stripped: !image.sections.some((s) => s.name === ".symtab"),
  };
}
