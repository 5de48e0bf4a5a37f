// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Where profiles go: the local directory store (and, later, the remote Parca store).
 *
 * @example
 * ```ts ignore
 * import { LocalStore } from "./mod.ts";
 * const store = await LocalStore.open("/var/lib/profiles");
 * await store.write({ pid: 1, name: "parca_agent_cpu", timeNanos: 0n, pprof: new Uint8Array() });
 * ```
 *
 * @module
 */

export { LocalStore, type StoredProfile } from "./local.ts";
