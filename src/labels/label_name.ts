// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The one definition of a Prometheus label name, for flags, relabel rules and the remote writer.
 *
 * @module
 */

/** `[a-zA-Z_][a-zA-Z0-9_]*`, anchored. */
export const LABEL_NAME_PATTERN: RegExp = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Whether a string is a valid Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
 *
 * @example
 * ```ts
 * import { isValidLabelName } from "./label_name.ts";
 * if (!isValidLabelName("pod_name") || isValidLabelName("0pod")) throw new Error("wrong");
 * ```
 *
 * @param name The candidate.
 * @returns True when valid.
 */
export function isValidLabelName(name: string): boolean {
  return LABEL_NAME_PATTERN.test(name);
}
