// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { createHash } from "node:crypto";
import { compileAnchored, type Re2 } from "./_re2.ts";
import { expandTemplate } from "./_template.ts";
import { isValidLabelName } from "./label_name.ts";

/** The relabel actions of Prometheus (model/relabel, v2.50). */
export type RelabelAction =
  | "replace"
  | "keep"
  | "drop"
  | "keepequal"
  | "dropequal"
  | "hashmod"
  | "labelmap"
  | "labeldrop"
  | "labelkeep"
  | "lowercase"
  | "uppercase";

/** Every {@link RelabelAction}, in Prometheus's documentation order. */
export const RELABEL_ACTIONS: readonly RelabelAction[] = [
  "replace",
  "keep",
  "drop",
  "keepequal",
  "dropequal",
  "hashmod",
  "labelmap",
  "labeldrop",
  "labelkeep",
  "lowercase",
  "uppercase",
];

/**
 * One `relabel_configs` entry as written; an absent field is `undefined` (some validation rules
 * of Prometheus depend on whether a field was given at all, not only on its value).
 */
export interface RelabelConfigInput {
  /** Labels whose values are joined with `separator`. */
  source_labels?: string[];
  /** @default {";"} */
  separator?: string;
  /** RE2, anchored at both ends. @default {"(.*)"} */
  regex?: string;
  /** For `hashmod`; an unsigned 64-bit integer. */
  modulus?: bigint | number;
  /** The label written by replace, hashmod, lowercase, uppercase (or compared by *equal). */
  target_label?: string;
  /** `$1`, `${name}`... expanded against the regex match. @default {"$1"} */
  replacement?: string;
  /** Case-insensitive. @default {"replace"} */
  action?: string;
}

/** A validated, compiled relabel rule. */
export interface RelabelRule {
  readonly action: RelabelAction;
  readonly sourceLabels: readonly string[];
  readonly separator: string;
  /** The pattern as written (without the anchors). */
  readonly regexSource: string;
  /** The anchored pattern, compiled for RE2 (linear-time matching). */
  readonly regex: Re2;
  readonly modulus: bigint;
  readonly targetLabel: string;
  readonly replacement: string;
}

const DEFAULT_SEPARATOR = ";";
const DEFAULT_REGEX = "(.*)";
const DEFAULT_REPLACEMENT = "$1";
// Prometheus's relabelTarget: a label name in which `$1`/`${name}` may stand for parts.
const RELABEL_TARGET = /^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$/;
const MAX_UINT64 = (1n << 64n) - 1n;

export { isValidLabelName };

/**
 * Turns any string into a label name the way Prometheus's `strutil.SanitizeLabelName` does:
 * every character outside `[a-zA-Z0-9_]` becomes `_` (so `app.kubernetes.io/name` becomes
 * `app_kubernetes_io_name`).
 *
 * @example
 * ```ts
 * import { sanitizeLabelName } from "./relabel.ts";
 * console.assert(sanitizeLabelName("app.kubernetes.io/name") === "app_kubernetes_io_name");
 * ```
 *
 * @param name Any string, such as a Kubernetes label key.
 * @returns The sanitised name.
 */
export function sanitizeLabelName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, "_");
}

/** Go's `%q` for the plain strings that appear in these messages. */
function q(s: string): string {
  return JSON.stringify(s);
}

/**
 * Validates and compiles one relabel config, with Prometheus's defaults and error messages.
 *
 * @example
 * ```ts
 * import { compileRelabelConfig, relabelLabels } from "./relabel.ts";
 * const rule = compileRelabelConfig({ source_labels: ["a"], target_label: "b" });
 * console.assert(relabelLabels({ a: "x" }, [rule])?.b === "x");
 * ```
 *
 * @param input The fields as written.
 * @returns The compiled rule.
 * @throws {TypeError} With Prometheus's message when the combination of fields is invalid.
 * @throws {SyntaxError} When the regex is not valid RE2.
 */
export function compileRelabelConfig(input: RelabelConfigInput): RelabelRule {
  for (const name of input.source_labels ?? []) {
    if (!isValidLabelName(name)) throw new TypeError(`${q(name)} is not a valid label name`);
  }
  const regexSource = input.regex ?? DEFAULT_REGEX;
  const regex = compileAnchored(regexSource);
  let modulus = 0n;
  if (input.modulus !== undefined) {
    const m = typeof input.modulus === "bigint"
      ? input.modulus
      : Number.isSafeInteger(input.modulus)
      ? BigInt(input.modulus)
      : -1n;
    if (m < 0n || m > MAX_UINT64) {
      throw new TypeError(`modulus ${String(input.modulus)} is not an unsigned 64-bit integer`);
    }
    modulus = m;
  }
  const rawAction = input.action ?? "replace";
  const action = rawAction.toLowerCase() as RelabelAction;
  if (rawAction !== "" && !RELABEL_ACTIONS.includes(action)) {
    throw new TypeError(`unknown relabel action ${q(rawAction)}`);
  }
  const separator = input.separator ?? DEFAULT_SEPARATOR;
  const targetLabel = input.target_label ?? "";
  const replacement = input.replacement ?? DEFAULT_REPLACEMENT;

  // The checks and messages of Prometheus's Config.Validate, in its order.
  if (rawAction === "") throw new TypeError("relabel action cannot be empty");
  if (modulus === 0n && action === "hashmod") {
    throw new TypeError("relabel configuration for hashmod requires non-zero modulus");
  }
  const needsTarget = action === "replace" || action === "hashmod" || action === "lowercase" ||
    action === "uppercase" || action === "keepequal" || action === "dropequal";
  if (needsTarget && targetLabel === "") {
    throw new TypeError(`relabel configuration for ${action} action requires 'target_label' value`);
  }
  const invalidTarget = () =>
    new TypeError(`${q(targetLabel)} is invalid 'target_label' for ${action} action`);
  if (action === "replace") {
    const ok = targetLabel.includes("$")
      ? RELABEL_TARGET.test(targetLabel)
      : isValidLabelName(targetLabel);
    if (!ok) throw invalidTarget();
  }
  const caseOrEqual = action === "lowercase" || action === "uppercase" ||
    action === "keepequal" || action === "dropequal";
  if (caseOrEqual && !isValidLabelName(targetLabel)) throw invalidTarget();
  if (caseOrEqual && replacement !== DEFAULT_REPLACEMENT) {
    throw new TypeError(`'replacement' can not be set for ${action} action`);
  }
  if (action === "labelmap" && !RELABEL_TARGET.test(replacement)) {
    throw new TypeError(`${q(replacement)} is invalid 'replacement' for ${action} action`);
  }
  if (action === "hashmod" && !isValidLabelName(targetLabel)) throw invalidTarget();
  if (action === "keepequal" || action === "dropequal") {
    if (
      input.regex !== undefined || modulus !== 0n || separator !== DEFAULT_SEPARATOR ||
      replacement !== DEFAULT_REPLACEMENT
    ) {
      throw new TypeError(
        `${action} action requires only 'source_labels' and \`target_label\`, and no other fields`,
      );
    }
  }
  if (action === "labeldrop" || action === "labelkeep") {
    if (
      input.source_labels !== undefined || targetLabel !== "" || modulus !== 0n ||
      separator !== DEFAULT_SEPARATOR || replacement !== DEFAULT_REPLACEMENT
    ) {
      throw new TypeError(`${action} action requires only 'regex', and no other fields`);
    }
  }
  return {
    action,
    sourceLabels: [...(input.source_labels ?? [])],
    separator,
    regexSource,
    regex,
    modulus,
    targetLabel,
    replacement,
  };
}

/**
 * The label set being relabeled, with the semantics of Prometheus's `labels.Builder`: setting a
 * label to "" deletes it, and iteration (for labelmap, labeldrop, labelkeep) visits the
 * unchanged input labels in name order, then the labels set so far in the order they were first
 * set. That order decides which value wins when two labels map to the same name.
 */
class Builder {
  readonly #base: Map<string, string>;
  readonly #baseNames: string[];
  readonly #add = new Map<string, string>();
  readonly #del = new Set<string>();

  constructor(base: Map<string, string>) {
    this.#base = base;
    this.#baseNames = [...base.keys()].sort();
  }

  get(name: string): string {
    const added = this.#add.get(name);
    if (added !== undefined) return added;
    if (this.#del.has(name)) return "";
    return this.#base.get(name) ?? "";
  }

  set(name: string, value: string): void {
    if (value === "") {
      this.del(name);
      return;
    }
    this.#add.set(name, value);
  }

  del(name: string): void {
    this.#add.delete(name);
    this.#del.add(name);
  }

  /** A snapshot of the current labels, in Prometheus's iteration order. */
  entries(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const name of this.#baseNames) {
      if (!this.#del.has(name) && !this.#add.has(name)) out.push([name, this.#base.get(name)!]);
    }
    for (const e of this.#add) out.push(e);
    return out;
  }

  result(): Map<string, string> {
    return new Map(this.entries());
  }
}

function hashmod(value: string, modulus: bigint): string {
  const digest = createHash("md5").update(value).digest();
  // Prometheus uses the last 8 bytes, big-endian, "to give the same result as earlier versions".
  const n = new DataView(digest.buffer, digest.byteOffset + 8, 8).getBigUint64(0, false);
  return (n % modulus).toString();
}

/** Applies one rule; false when it drops the set. */
function apply(rule: RelabelRule, lb: Builder): boolean {
  let value = "";
  for (let i = 0; i < rule.sourceLabels.length; i++) {
    if (i > 0) value += rule.separator;
    value += lb.get(rule.sourceLabels[i]);
  }
  switch (rule.action) {
    case "drop":
      return !rule.regex.test(value);
    case "keep":
      return rule.regex.test(value);
    case "dropequal":
      return lb.get(rule.targetLabel) !== value;
    case "keepequal":
      return lb.get(rule.targetLabel) === value;
    case "replace": {
      const m = rule.regex.exec(value);
      if (!m) return true; // No match, no replacement.
      const target = expandTemplate(rule.targetLabel, m);
      if (!isValidLabelName(target)) return true;
      lb.set(target, expandTemplate(rule.replacement, m));
      return true;
    }
    case "lowercase":
      lb.set(rule.targetLabel, value.toLowerCase());
      return true;
    case "uppercase":
      lb.set(rule.targetLabel, value.toUpperCase());
      return true;
    case "hashmod":
      lb.set(rule.targetLabel, hashmod(value, rule.modulus));
      return true;
    case "labelmap":
      for (const [name, v] of lb.entries()) {
        const m = rule.regex.exec(name);
        if (!m) continue;
        // Prometheus sets the result without checking it; an empty name is skipped here, since
        // no store accepts a label without a name.
        const target = expandTemplate(rule.replacement, m);
        if (target !== "") lb.set(target, v);
      }
      return true;
    case "labeldrop":
      for (const [name] of lb.entries()) if (rule.regex.test(name)) lb.del(name);
      return true;
    case "labelkeep":
      for (const [name] of lb.entries()) if (!rule.regex.test(name)) lb.del(name);
      return true;
  }
}

/**
 * Runs relabel rules over a label set, in order, as Prometheus's `relabel.Process` does.
 *
 * Labels with empty values count as absent, on input and output. Nothing is removed afterwards:
 * dropping the `__`-prefixed labels is the caller's step (see {@link finalizeLabels}).
 *
 * @param labels The input labels; not modified.
 * @param rules The compiled rules.
 * @returns The resulting labels, or undefined when a rule dropped the set.
 */
export function relabel(
  labels: ReadonlyMap<string, string>,
  rules: readonly RelabelRule[],
): Map<string, string> | undefined {
  const base = new Map<string, string>();
  for (const [k, v] of labels) if (v !== "") base.set(k, v);
  if (rules.length === 0) return base;
  const lb = new Builder(base);
  for (const rule of rules) if (!apply(rule, lb)) return undefined;
  return lb.result();
}

/**
 * {@link relabel} over plain objects, for tests and one-off use.
 *
 * @param labels The input labels.
 * @param rules The compiled rules.
 * @returns The resulting labels sorted by name, or undefined when dropped.
 */
export function relabelLabels(
  labels: Record<string, string>,
  rules: readonly RelabelRule[],
): Record<string, string> | undefined {
  const out = relabel(new Map(Object.entries(labels)), rules);
  if (!out) return undefined;
  const sorted: Record<string, string> = {};
  for (const k of [...out.keys()].sort()) sorted[k] = out.get(k)!;
  return sorted;
}

/**
 * The step after relabeling: drops every label whose name starts with `__` (as Prometheus does
 * with target labels) and sets `__name__` to the profile name, first, followed by the other
 * labels in name order. Rules can read `__name__` but cannot change what is sent.
 *
 * @param labels Relabeled labels.
 * @param profileName The value of `__name__`.
 * @returns The labels to attach to a series.
 */
export function finalizeLabels(
  labels: ReadonlyMap<string, string>,
  profileName: string,
): Record<string, string> {
  const out: Record<string, string> = { __name__: profileName };
  for (const k of [...labels.keys()].sort()) {
    if (!k.startsWith("__")) out[k] = labels.get(k)!;
  }
  return out;
}
