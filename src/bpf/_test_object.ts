// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The real BPF object with small maps, for tests that run as root (loaded, not attached).
 *
 * @module
 */

import { ProfilerObject } from "./profiler_object.ts";

const OBJECT = new URL("../../bpf/.output/profiler.bpf.o", import.meta.url).pathname;

/** Opens and loads bpf/.output/profiler.bpf.o with 1024-entry sample maps (root). */
export function openTestObject(): ProfilerObject {
  return ProfilerObject.open({
    objectPath: OBJECT,
    countEntries: 1024,
    stackEntries: 1024,
    verbose: false,
    dwarfEnabled: true,
    mixedMode: true,
    eventsBufferBytes: 1 << 16,
  });
}
