// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// An ELF file as one process maps it: its wanted symbols and the bias that turns their link-time
// addresses into the process's addresses.

import type { ElfSource, ProcMapping } from "../process/mod.ts";
import { readElf } from "../process/mod.ts";
import { LruCache } from "../process/mod.ts";
import {
  type ElfRelocation,
  type ElfSymbol,
  fileOffsetOf,
  readElfSymbols,
} from "./_elf_symbols.ts";

const PT_LOAD = 1;

/** Opens the file behind a mapping of a process (the object-file pool fits). */
export interface MappedFileOpener {
  /**
   * @param pid The process.
   * @param m One of its file-backed mappings.
   * @returns The file and its identity (what caches are keyed by); the opener owns the file.
   * @throws {Error} When the file cannot be reached safely.
   */
  open(pid: number, m: ProcMapping): { src: ElfSource; key: string };
}

interface FileFacts {
  image: NonNullable<ReturnType<typeof readElf>>;
  syms: NonNullable<ReturnType<typeof readElfSymbols>>;
}

/** ELF facts per file identity and wanted set: a host's python processes share one read. */
const factsCache = new LruCache<string, FileFacts | null>(64);

/** A mapped ELF image. */
export interface MappedImage {
  path: string;
  /** Runtime address = link-time address + bias. */
  bias: number;
  symbols: Map<string, ElfSymbol>;
  relocations: ElfRelocation[];
  /**
   * Reads file bytes at a link-time address (code of a function, initial data).
   *
   * @param addr Link-time address.
   * @param length Bytes.
   * @returns The bytes, or undefined when no section holds them.
   */
  readAt(addr: number, length: number): Uint8Array | undefined;
}

/**
 * Reads the wanted symbols of the file mapped at `m` and its load bias.
 *
 * @param pid The process.
 * @param m An executable mapping of the file.
 * @param files Opens mapped files safely.
 * @param wanted Symbol names.
 * @returns The image, or undefined when the file is not ELF or cannot be opened.
 */
export function mappedImage(
  pid: number,
  m: ProcMapping,
  files: MappedFileOpener,
  wanted: ReadonlySet<string>,
): MappedImage | undefined {
  let src: ElfSource;
  let key: string;
  try {
    ({ src, key } = files.open(pid, m));
  } catch {
    return undefined;
  }
  const cacheKey = `${key}\0${[...wanted].join(",")}`;
  let facts = factsCache.get(cacheKey);
  if (facts === undefined) {
    const image = readElf(src);
    const syms = image ? readElfSymbols(src, wanted) : undefined;
    facts = image && syms ? { image, syms } : null;
    factsCache.set(cacheKey, facts);
  }
  if (!facts) return undefined;
  const { image, syms } = facts;
  const seg = image.programHeaders.find((p) =>
    p.type === PT_LOAD && m.offset >= p.offset - (p.offset % 4096) &&
    m.offset < p.offset + p.filesz
  );
  if (!seg) return undefined;
  const bias = m.start - m.offset - (seg.vaddr - seg.offset);
  return {
    path: m.path,
    bias,
    symbols: syms.symbols,
    relocations: syms.relocations,
    readAt(addr, length) {
      const off = fileOffsetOf(syms.sections, addr);
      if (off === undefined) return undefined;
      const b = src.readAt(off, length);
      return b.length === length ? b : undefined;
    },
  };
}

/**
 * The mapping of a library or executable, by a test on its file name.
 *
 * @param maps Mappings of the process.
 * @param test Matches the base name.
 * @returns The first executable mapping whose file matches, with the match.
 */
export function findMapping(
  maps: ProcMapping[],
  test: RegExp,
): { m: ProcMapping; match: RegExpMatchArray } | undefined {
  for (const m of maps) {
    if (!m.perms.includes("x") || !m.path.startsWith("/")) continue;
    const base = m.path.slice(m.path.lastIndexOf("/") + 1);
    const match = base.match(test);
    if (match) return { m, match };
  }
  return undefined;
}
