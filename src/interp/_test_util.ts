// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Helpers of the interpreter tests.

import { FileElfSource } from "../process/mod.ts";
import type { MappedFileOpener } from "./_image.ts";

/** Opens mapped files through /proc/PID/map_files, as the object-file pool does. */
export const mapFilesOpener: MappedFileOpener = {
  open: (pid, m) => ({
    src: FileElfSource.open(
      `/proc/${pid}/map_files/${m.start.toString(16)}-${m.limit.toString(16)}`,
    ),
    key: `${pid}:${m.start}`,
  }),
};
