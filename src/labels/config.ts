// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node as YamlNode,
  parseDocument,
  type Scalar,
} from "yaml";
import { readRegularTextFile, SafeOpenError } from "../safefs/mod.ts";
import { compileRelabelConfig, type RelabelConfigInput, type RelabelRule } from "./relabel.ts";

/**
 * Largest config file read: relabel rules fit in kilobytes, and the cap keeps a config path
 * pointing at something huge (or endless) from growing the agent's memory.
 */
export const MAX_CONFIG_BYTES = 1 << 20;

/** The agent's config file (`--config-path`), parsed and validated. */
export interface AgentConfig {
  /** The compiled `relabel_configs`, in order. */
  relabelConfigs: RelabelRule[];
  /** The file's text, for the status page. */
  text: string;
  /** True when the file held no document (only comments or nothing); accepted with a warning. */
  empty: boolean;
}

/**
 * A config file that cannot be used. The message is one line naming the file (when known), the
 * place in it and the problem, e.g. `Cannot load config file "a.yaml": line 4:
 * relabel_configs[0]: unknown relabel action "kepp"`.
 */
export class ConfigError extends Error {
  /**
   * @param message The one-line description.
   * @param options The underlying error, if any.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConfigError";
  }
}

const TOP_LEVEL_KEYS = new Set(["relabel_configs"]);
const RULE_KEYS = new Set([
  "source_labels",
  "separator",
  "regex",
  "modulus",
  "target_label",
  "replacement",
  "action",
]);

/**
 * Parses the text of a config file: one top-level key, `relabel_configs`, a list of Prometheus
 * relabel configs. Unknown keys are errors (as the reference agent's strict YAML decoding makes
 * them), and every rule is validated as Prometheus validates it.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const c = parseConfig("relabel_configs:\n  - source_labels: [comm]\n    regex: nginx\n    action: keep\n");
 * console.assert(c.relabelConfigs[0].action === "keep");
 * ```
 *
 * @param text The YAML.
 * @returns The config.
 * @throws {ConfigError} Naming the line and the problem.
 */
export function parseConfig(text: string): AgentConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, intAsBigInt: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // The yaml package's messages end in a code excerpt over several lines: keep the first.
    throw new ConfigError(`invalid YAML: ${doc.errors[0].message.split("\n")[0]}`);
  }
  const at = (node: YamlNode | null | undefined): string => {
    const offset = node?.range?.[0];
    return offset === undefined ? "" : `line ${lines.linePos(offset).line}: `;
  };
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) {
    return { relabelConfigs: [], text, empty: true };
  }
  if (!isMap(root)) throw new ConfigError(`${at(root)}the config must be a mapping`);
  const rules: RelabelRule[] = [];
  for (const pair of root.items) {
    const key = scalarText(pair.key as YamlNode);
    if (key === undefined || !TOP_LEVEL_KEYS.has(key)) {
      throw new ConfigError(`${at(pair.key as YamlNode)}unknown field ${JSON.stringify(key)}`);
    }
    const list = pair.value as YamlNode | null;
    if (list === null || (isScalar(list) && list.value === null)) continue;
    if (!isSeq(list)) throw new ConfigError(`${at(list)}relabel_configs must be a list`);
    list.items.forEach((item, i) => {
      const where = `relabel_configs[${i}]`;
      const node = item as YamlNode;
      if (!isMap(node)) throw new ConfigError(`${at(node)}${where} must be a mapping`);
      const input: RelabelConfigInput = {};
      const fieldNodes = new Map<string, YamlNode>();
      for (const field of node.items) {
        const name = scalarText(field.key as YamlNode);
        const value = field.value as YamlNode | null;
        const fail = (detail: string): never => {
          throw new ConfigError(`${at(value ?? (field.key as YamlNode))}${where}: ${detail}`);
        };
        if (name === undefined || !RULE_KEYS.has(name)) {
          throw new ConfigError(
            `${at(field.key as YamlNode)}${where}: unknown field ${JSON.stringify(name)}`,
          );
        }
        fieldNodes.set(name, (value ?? field.key) as YamlNode);
        if (name === "source_labels") {
          if (value === null || (isScalar(value) && value.value === null)) continue;
          if (!isSeq(value)) fail("source_labels must be a list of label names");
          input.source_labels = (value as { items: unknown[] }).items.map((n) => {
            const s = scalarText(n as YamlNode);
            return s ?? fail("source_labels must be a list of label names");
          });
        } else if (name === "modulus") {
          if (value === null || (isScalar(value) && value.value === null)) continue;
          const v = isScalar(value) ? value.value : undefined;
          if (typeof v !== "bigint" || v < 0n) {
            fail(`modulus must be an unsigned integer, not ${describe(value)}`);
          }
          input.modulus = v as bigint;
        } else {
          // A null value gives "" (the zero value), as the reference agent's YAML decoder does:
          // `replacement:` alone means "delete the target label", `regex:` alone matches "".
          if (value !== null && !isScalar(value)) fail(`${name} must be a string`);
          const s = value === null ? "" : scalarText(value) ?? "";
          (input as Record<string, string>)[name] = s;
        }
      }
      try {
        rules.push(compileRelabelConfig(input));
      } catch (e) {
        const message = (e as Error).message;
        // Point at the field the message is about, when it names one.
        const field = FIELD_OF_MESSAGE.find(([re]) => re.test(message))?.[1];
        const place = (field === undefined ? undefined : fieldNodes.get(field)) ?? node;
        throw new ConfigError(`${at(place)}${where}: ${message}`, { cause: e });
      }
    });
  }
  return { relabelConfigs: rules, text, empty: false };
}

/** Which field a validation message of {@link compileRelabelConfig} is about. */
const FIELD_OF_MESSAGE: ReadonlyArray<[RegExp, string]> = [
  [/relabel action|^relabel configuration for \w+ action requires 'target_label'/, "action"],
  [/is not a valid label name/, "source_labels"],
  [/^error parsing regexp/, "regex"],
  [/modulus/, "modulus"],
  [/'target_label'/, "target_label"],
  [/'replacement'/, "replacement"],
];

/** A scalar's text as a Go string field would receive it; undefined for non-scalars. */
function scalarText(node: YamlNode | null | undefined): string | undefined {
  if (!node || !isScalar(node)) return undefined;
  const s = node as Scalar;
  if (s.value === null) return "";
  if (typeof s.value === "string") return s.value;
  // Numbers and booleans: the text as written (`regex: 0123` is the pattern "0123").
  return s.source ?? String(s.value);
}

function describe(node: YamlNode | null): string {
  if (node && isScalar(node)) return JSON.stringify(scalarText(node));
  return isSeq(node) ? "a list" : "a mapping";
}

/**
 * Reads and parses a config file. It must be a regular file (symlinks followed) of at most
 * {@link MAX_CONFIG_BYTES}: a FIFO is refused at once rather than waited on, `/dev/zero` rather
 * than read without end.
 *
 * @param path The `--config-path` value.
 * @returns The config.
 * @throws {ConfigError} One line: `Cannot load config file "<path>": <problem>`.
 */
export function loadConfigFile(path: string): Promise<AgentConfig> {
  try {
    return Promise.resolve(loadConfigFileSync(path));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** The config file's text, read as {@link loadConfigFile} reads it. */
export function readConfigText(path: string): string {
  return readRegularTextFile(path, MAX_CONFIG_BYTES);
}

function loadConfigFileSync(path: string): AgentConfig {
  let text: string;
  try {
    text = readConfigText(path);
  } catch (e) {
    const detail = e instanceof SafeOpenError ? e.detail : (e as Error).message;
    throw new ConfigError(`Cannot load config file "${path}": ${detail}`, { cause: e });
  }
  try {
    return parseConfig(text);
  } catch (e) {
    throw new ConfigError(`Cannot load config file "${path}": ${(e as Error).message}`, {
      cause: e,
    });
  }
}
