// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { createHash } from "node:crypto";
import type { ElfSource } from "./elf_source.ts";
import {
  type ElfImage,
  type ElfNote,
  PT_NOTE,
  readElf,
  readExact,
  readNotes,
  SHT_NOBITS,
  SHT_NOTE,
} from "./_elf.ts";

/** A build ID and where it came from. */
export interface ElfBuildId {
  /** Lowercase hex. For Go, the hex of the build-ID string's bytes. */
  id: string;
  /**
   * `gnu`: the linker's NT_GNU_BUILD_ID note; `go`: the Go toolchain's note; `text-hash`: the first
   * 16 bytes of the SHA-256 of `.text`, for files built without either.
   */
  kind: "gnu" | "go" | "text-hash";
}

const NT_GNU_BUILD_ID = 3;
const NT_GO_BUILD_ID = 4;
/** GNU build IDs are 8 (fast), 16 (md5, uuid) or 20 (sha1) bytes; anything past this is junk. */
const MAX_GNU_ID = 64;
/** A Go build ID is four slash-separated base64 hashes, about 83 bytes. */
const MAX_GO_ID = 256;
/** `.text` is hashed in chunks of this size so memory stays flat. */
export const TEXT_HASH_CHUNK = 1 << 20;
/** Files with a larger `.text` and no build-ID note get none rather than seconds of hashing. */
export const MAX_TEXT_HASH_BYTES = 1 << 30;
/** At most this many note sections and segments are looked at. */
const MAX_NOTE_BLOBS = 64;

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/**
 * Computes the build ID of an ELF64 little-endian file.
 *
 * In order: the GNU build-ID note (`.note.gnu.build-id`, else any note section or PT_NOTE segment
 * with an NT_GNU_BUILD_ID note owned by "GNU", which finds it in files whose section headers were
 * stripped), else the Go build-ID note (`.note.go.buildid`, owner "Go", type 4), else a hash of
 * `.text`. Parca Agent v0.30 looks at the Go note first; a Go binary with both notes gets its GNU
 * ID here, the one debuginfod and `.build-id/` directories know it by. Parca hashes `.text` with
 * xxhash; this uses SHA-256 (from `node:crypto`), so text-hash IDs differ from Parca's.
 *
 * Corrupt or truncated input never throws and never loops: the result is the best ID that the
 * readable parts give, or undefined. Only an I/O error of the source itself propagates.
 *
 * @example Build ID of the running binary
 * ```ts
 * import { elfBuildId, FileElfSource } from "./mod.ts";
 * using src = FileElfSource.open(Deno.execPath());
 * const id = elfBuildId(src);
 * if (id?.kind !== "gnu") throw new Error("expected a GNU build ID");
 * ```
 *
 * @param file The file to read.
 * @returns The build ID, or undefined for non-ELF files and ELF files with no notes and no `.text`.
 */
export function elfBuildId(file: ElfSource): ElfBuildId | undefined {
  const image = readElf(file);
  return image ? buildIdOfImage(file, image) : undefined;
}

/**
 * {@link elfBuildId} for a file whose headers were already parsed.
 *
 * @param file The file.
 * @param image Its parsed headers.
 * @returns The build ID, or undefined.
 */
export function buildIdOfImage(file: ElfSource, image: ElfImage): ElfBuildId | undefined {
  // Candidate note areas, most specific first; each is read at most once.
  const areas: { offset: number; size: number; align: number }[] = [];
  const seen = new Set<number>();
  const add = (offset: number, size: number, align: number) => {
    if (size > 0 && !seen.has(offset) && areas.length < MAX_NOTE_BLOBS) {
      seen.add(offset);
      areas.push({ offset, size, align });
    }
  };
  const named = (name: string) =>
    image.sections.find((s) => s.name === name && s.type !== SHT_NOBITS);
  for (const name of [".note.gnu.build-id", ".note.go.buildid"]) {
    const s = named(name);
    if (s) add(s.offset, s.size, s.addralign);
  }
  for (const s of image.sections) if (s.type === SHT_NOTE) add(s.offset, s.size, s.addralign);
  for (const p of image.programHeaders) if (p.type === PT_NOTE) add(p.offset, p.filesz, p.align);

  const cache = new Map<number, ElfNote[]>();
  const notesOf = (i: number) => {
    let n = cache.get(i);
    if (!n) cache.set(i, n = readNotes(file, areas[i].offset, areas[i].size, areas[i].align));
    return n;
  };
  const find = (owner: string, type: number, max: number) => {
    for (let i = 0; i < areas.length; i++) {
      for (const n of notesOf(i)) {
        if (n.name === owner && n.type === type && n.desc.length > 0 && n.desc.length <= max) {
          return hex(n.desc);
        }
      }
    }
    return undefined;
  };
  const gnu = find("GNU", NT_GNU_BUILD_ID, MAX_GNU_ID);
  if (gnu) return { id: gnu, kind: "gnu" };
  const go = find("Go", NT_GO_BUILD_ID, MAX_GO_ID);
  if (go) return { id: go, kind: "go" };

  const text = named(".text");
  if (!text || text.size === 0 || text.size > MAX_TEXT_HASH_BYTES) return undefined;
  if (!(text.offset + text.size <= file.size)) return undefined;
  const h = createHash("sha256");
  for (let off = 0; off < text.size; off += TEXT_HASH_CHUNK) {
    const chunk = readExact(file, text.offset + off, Math.min(TEXT_HASH_CHUNK, text.size - off));
    if (!chunk) return undefined; // the file shrank under us
    h.update(chunk);
  }
  return { id: h.digest("hex").slice(0, 32), kind: "text-hash" };
}
