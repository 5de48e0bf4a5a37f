// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Reading processes from /proc: maps, names, command lines, parents, start times, and the build
 * IDs of the files they map.
 *
 * {@link ProcessReader} is the entry point; it opens mapped files through /proc/PID/map_files so
 * that paths chosen by a profiled process cannot redirect the agent, and caches build IDs per file.
 * {@link elfBuildId} computes a build ID from any {@link ElfSource}.
 *
 * @example Executable mappings of the agent itself
 * ```ts
 * import { ProcessReader } from "./mod.ts";
 * const reader = new ProcessReader({ buildIdCacheSize: 1024 });
 * const info = reader.read(Deno.pid);
 * const ids = info?.mappings.map((m) => `${m.path} ${m.buildIdKind}:${m.buildId}`) ?? [];
 * if (!ids.some((s) => s.startsWith(`${Deno.execPath()} gnu:`))) throw new Error("no build ID");
 * ```
 *
 * @module
 */

export { parseProcStat, type ProcStat } from "./_proc_stat.ts";
export { parseMaps, type ParseMapsCounters, type ProcMapping } from "./maps.ts";
export { BytesElfSource, type ElfSource, FileElfSource } from "./elf_source.ts";
export { buildIdOfImage, type ElfBuildId, elfBuildId } from "./elf_build_id.ts";
export {
  type ElfImage,
  type ElfProgramHeader,
  type ElfSection,
  readElf,
  SHT_NOBITS,
} from "./_elf.ts";
export {
  type ExecutableMapping,
  executableSegment,
  type MappedFileFacts,
  type ProcessInfo,
  ProcessReader,
  type ProcessReaderLogger,
  type ProcessReaderOptions,
  type ProcessReaderStats,
} from "./process_reader.ts";
export { LruCache } from "./lru.ts";
export {
  type ImageRef,
  type ProcessRecord,
  ProcessRecords,
  type ProcessRecordsOptions,
  type ProcessRecordsStats,
  type RecordChange,
  sameStart,
} from "./records.ts";
export {
  ElfExecutableInspector,
  type ExecutableFacts,
  executableFactsOf,
  executableFileId,
  type ExecutableInspector,
} from "./executable_facts.ts";
export {
  ObjectFilePool,
  type ObjectFilePoolStats,
  type PoolEvictionPolicy,
} from "./object_file_pool.ts";
