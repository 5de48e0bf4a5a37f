// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Parsers for the kinds of values the command line takes.
 *
 * Each parser returns the typed value or throws a {@link ValueError} whose message is the part of
 * the user-facing error after the colon ("expected a duration like 10s, 250ms or 5m"). The flag
 * parser adds the flag name and the quoted value, so these stay reusable and testable on their own.
 *
 * @module
 */

import { isValidLabelName } from "../labels/mod.ts";

/** A value that does not fit its flag; the message says what was expected. */
export class ValueError extends Error {
  /**
   * Makes an error for one rejected value.
   *
   * @param message What the value should have looked like, without a final period.
   */
  constructor(message: string) {
    super(message);
    this.name = "ValueError";
  }
}

// Go's time.ParseDuration units, in nanoseconds. "µs" is U+00B5 (micro sign) and "μs" is U+03BC
// (Greek mu): Go accepts both because both are typed in the wild.
const DURATION_UNITS: ReadonlyMap<string, number> = new Map([
  ["ns", 1],
  ["us", 1e3],
  ["\u00b5s", 1e3],
  ["\u03bcs", 1e3],
  ["ms", 1e6],
  ["s", 1e9],
  ["m", 60e9],
  ["h", 3600e9],
]);

// Go durations are int64 nanoseconds; anything longer cannot be represented by the reference
// agent either, so it is a mistake rather than a wish for a very long period.
const MAX_DURATION_NS = 9223372036854775807;

const DURATION_HINT = "expected a duration like 10s, 250ms or 5m";

/**
 * Parses a Go-style duration (`10s`, `250ms`, `1h30m`, `1.5s`, `0`) into milliseconds.
 *
 * Signs are rejected (no flag takes a negative duration), and so are bare numbers other than `0`,
 * because `--profiling-duration=10` is ambiguous between seconds and milliseconds.
 *
 * @param raw The text given on the command line.
 * @returns The duration in milliseconds, possibly fractional (`1500us` is 1.5).
 */
export function parseDuration(raw: string): number {
  if (raw === "0") return 0;
  if (raw === "") throw new ValueError(DURATION_HINT);
  if (raw.startsWith("-")) throw new ValueError("expected a duration that is not negative");
  if (/^[0-9.]+$/.test(raw)) {
    throw new ValueError(`${DURATION_HINT} (a number needs a unit: ns, us, ms, s, m or h)`);
  }
  let ns = 0;
  let rest = raw;
  while (rest !== "") {
    const m = /^([0-9]*)(?:\.([0-9]*))?([^0-9.]+)/.exec(rest);
    if (m === null || (m[1] === "" && (m[2] ?? "") === "")) throw new ValueError(DURATION_HINT);
    const unit = DURATION_UNITS.get(m[3]);
    if (unit === undefined) {
      throw new ValueError(DURATION_HINT);
    }
    const whole = m[1] === "" ? 0 : Number(m[1]);
    const frac = m[2] === undefined || m[2] === "" ? 0 : Number(`0.${m[2]}`);
    ns += whole * unit + frac * unit;
    rest = rest.slice(m[0].length);
  }
  if (ns > MAX_DURATION_NS) throw new ValueError("expected a duration of at most 2562047h");
  // Rounding to whole nanoseconds keeps "0.1s" from becoming 100.00000000000001 ms.
  return Math.round(ns) / 1e6;
}

/** Bounds of an integer flag; both ends are inclusive. */
export interface IntRange {
  /** Smallest accepted value. */
  min: number;
  /** Largest accepted value. */
  max: number;
}

/**
 * Parses a decimal integer, strictly: no fractions, no suffixes, no spaces.
 *
 * @param raw The text given on the command line.
 * @param range Accepted bounds, inclusive.
 * @param signed Whether a leading `-` is allowed (only for Go runtime settings kept for
 *   compatibility).
 * @returns The integer.
 */
export function parseInteger(raw: string, range: IntRange, signed = false): number {
  const pattern = signed ? /^-?[0-9]+$/ : /^[0-9]+$/;
  if (!pattern.test(raw)) {
    throw new ValueError(
      raw.startsWith("-") && !signed
        ? "expected an integer that is not negative"
        : rangeHint(range),
    );
  }
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new ValueError(rangeHint(range));
  }
  return n;
}

function rangeHint(range: IntRange): string {
  if (range.max >= Number.MAX_SAFE_INTEGER) {
    return range.min <= Number.MIN_SAFE_INTEGER
      ? "expected an integer"
      : `expected an integer of at least ${range.min}`;
  }
  return `expected an integer from ${range.min} to ${range.max}`;
}

/** Any integer JavaScript can hold exactly. */
export const ANY_INT: IntRange = { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER };

// Memory limits are counted in pages of 1024-multiples everywhere a user meets them (ulimit -l,
// systemd's LimitMEMLOCK=, /proc/PID/limits), so every suffix here is a power of 1024, "M"
// included: "512M" means what `systemd` means by it.
const SIZE_SUFFIXES: ReadonlyMap<string, number> = new Map([
  ["", 1],
  ["k", 1024],
  ["K", 1024],
  ["KiB", 1024],
  ["M", 1024 ** 2],
  ["MiB", 1024 ** 2],
  ["G", 1024 ** 3],
  ["GiB", 1024 ** 3],
]);

const SIZE_HINT =
  "expected a byte count or a size like 64MiB (suffixes k, K, KiB, M, MiB, G, GiB, all powers of 1024)";

/**
 * Parses a size in bytes: a plain byte count or an integer with a binary suffix.
 *
 * Accepted suffixes are `k`, `K`, `KiB`, `M`, `MiB`, `G` and `GiB`, all powers of 1024 (as in
 * `ulimit` and systemd): `512M` is 536870912 bytes.
 *
 * @param raw The text given on the command line.
 * @returns The size in bytes.
 */
export function parseSize(raw: string): number {
  const m = /^([0-9]+)([a-zA-Z]*)$/.exec(raw);
  if (m === null) {
    throw new ValueError(raw.startsWith("-") ? "expected a size that is not negative" : SIZE_HINT);
  }
  const unit = SIZE_SUFFIXES.get(m[2]);
  if (unit === undefined) throw new ValueError(SIZE_HINT);
  const n = Number(m[1]) * unit;
  if (!Number.isSafeInteger(n)) throw new ValueError("expected a size of at most 8191TiB");
  return n;
}

/**
 * Parses a count of pages that must be a power of two, at least `min`.
 *
 * @param raw The text given on the command line.
 * @param min The smallest accepted power of two.
 * @param max The largest accepted power of two.
 * @returns The count.
 */
export function parsePowerOfTwo(raw: string, min: number, max: number): number {
  const hint = `expected a power of two from ${min} to ${max}`;
  if (!/^[0-9]+$/.test(raw)) throw new ValueError(hint);
  const n = Number(raw);
  if (n < min || n > max || !Number.isSafeInteger(n) || (n & (n - 1)) !== 0) {
    // `n & (n - 1)` is exact only below 2^31, which `max` guarantees for the values that reach it.
    throw new ValueError(hint);
  }
  return n;
}

/**
 * Parses a boolean written as `true` or `false`.
 *
 * @param raw The text after `=`.
 * @returns The boolean.
 */
export function parseBool(raw: string): boolean {
  if (raw === "true") return true;
  if (raw === "false") return false;
  throw new ValueError("expected true or false");
}

/**
 * Parses one of a fixed set of words.
 *
 * @param raw The text given on the command line.
 * @param choices The accepted words, in the order the error lists them.
 * @returns The word, typed as one of the choices.
 */
export function parseEnum<T extends string>(raw: string, choices: readonly T[]): T {
  const found = choices.find((c) => c === raw);
  if (found === undefined) throw new ValueError(`expected one of ${choices.join(", ")}`);
  return found;
}

// Prometheus' label name syntax (model.LabelNameRE before UTF-8 names were allowed), which is
// what Parca stores; a wider name would be rejected by the server on every write.

/**
 * Parses `KEY=VALUE;KEY2=VALUE2` into ordered label pairs.
 *
 * Names must be Prometheus label names and must not start with `__` (reserved for labels the
 * agent discovers, which relabeling may drop). One trailing `;` is allowed, as shell scripts that
 * build the list in a loop leave it; any other empty entry, a missing `=`, an empty value or a
 * repeated name is an error. An empty string means no labels.
 *
 * @param raw The text given on the command line.
 * @param seen Names already given by earlier uses of the flag, to reject duplicates across them.
 * @returns The labels in the order written.
 */
export function parseLabels(
  raw: string,
  seen: ReadonlySet<string> = new Set(),
): Array<[string, string]> {
  if (raw === "") return [];
  const entries = raw.split(";");
  if (entries.length > 1 && entries[entries.length - 1] === "") entries.pop();
  const names = new Set(seen);
  const out: Array<[string, string]> = [];
  for (const entry of entries) {
    if (entry === "") {
      throw new ValueError('empty label entry: expected KEY=VALUE pairs separated by ";"');
    }
    const eq = entry.indexOf("=");
    if (eq < 0) {
      throw new ValueError(`label entry "${entry}" has no "=": expected KEY=VALUE`);
    }
    const name = entry.slice(0, eq);
    const value = entry.slice(eq + 1);
    if (!isValidLabelName(name)) {
      throw new ValueError(`label name "${name}" is not valid: expected [a-zA-Z_][a-zA-Z0-9_]*`);
    }
    if (name.startsWith("__")) {
      throw new ValueError(`label name "${name}" starts with "__", which is reserved`);
    }
    if (value === "") throw new ValueError(`label "${name}" has an empty value`);
    if (names.has(name)) throw new ValueError(`label name "${name}" is given more than once`);
    names.add(name);
    out.push([name, value]);
  }
  return out;
}

/**
 * Parses a comma-separated list with no empty items.
 *
 * @param raw The text given on the command line.
 * @returns The items in order.
 */
export function parseList(raw: string): string[] {
  const items = raw.split(",");
  if (items.some((item) => item === "")) {
    throw new ValueError("expected a comma-separated list with no empty items");
  }
  return items;
}

/** What {@link parseHostPort} accepts beyond `host:port`. */
export interface HostPortOptions {
  /** Whether `:7071` (every interface) is accepted. */
  allowEmptyHost: boolean;
  /** Whether port 0 (any free port) is accepted. */
  allowPortZero: boolean;
}

/**
 * Checks a `host:port` address, IPv6 hosts in brackets (`[::1]:7071`), as Go's
 * `net.SplitHostPort` does, and returns it unchanged.
 *
 * @param raw The text given on the command line.
 * @param options Whether an empty host and port 0 are accepted.
 * @returns The address.
 */
export function parseHostPort(raw: string, options: HostPortOptions): string {
  const minPort = options.allowPortZero ? 0 : 1;
  const hint = `expected host:port with a port from ${minPort} to 65535`;
  let host: string;
  let port: string;
  if (raw.startsWith("[")) {
    const end = raw.indexOf("]");
    if (end < 0) throw new ValueError(`${hint} (missing "]" after the IPv6 address)`);
    host = raw.slice(1, end);
    const rest = raw.slice(end + 1);
    if (!rest.startsWith(":")) throw new ValueError(`${hint} (missing port)`);
    port = rest.slice(1);
    if (!/^[0-9a-fA-F:.]+(%[^\s\]]+)?$/.test(host) || !host.includes(":")) {
      throw new ValueError(`${hint} ("${host}" is not an IPv6 address)`);
    }
  } else {
    const colon = raw.lastIndexOf(":");
    if (colon < 0) throw new ValueError(`${hint} (missing port)`);
    host = raw.slice(0, colon);
    port = raw.slice(colon + 1);
    if (host.includes(":")) {
      throw new ValueError(`${hint} (an IPv6 host needs brackets, like [::1]:7071)`);
    }
    if (/[\s/\[\]@]/.test(host)) throw new ValueError(`${hint} ("${host}" is not a host name)`);
    if (host === "" && !options.allowEmptyHost) throw new ValueError(`${hint} (missing host)`);
  }
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535 || Number(port) < minPort) {
    throw new ValueError(hint);
  }
  return raw;
}

/**
 * Levenshtein distance, for "did you mean" hints on unknown flags.
 *
 * @param a One string.
 * @param b The other string.
 * @returns The number of single-character edits between them.
 */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
    }
    prev = cur;
  }
  return prev[b.length];
}
