// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The executable facts behind the `__meta_process_executable_*` labels. They are read once per
 * file, with the file's other facts, by src/process (executable_facts.ts): this re-exports them
 * for the labels' callers.
 *
 * @module
 */

export {
  ElfExecutableInspector,
  type ExecutableFacts,
  executableFileId,
  type ExecutableInspector,
} from "../process/mod.ts";
