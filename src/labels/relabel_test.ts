// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, equal, throws } from "node:assert/strict";
import {
  compileRelabelConfig,
  finalizeLabels,
  type RelabelConfigInput,
  relabelLabels,
  sanitizeLabelName,
} from "./relabel.ts";

interface Case {
  name: string;
  input: Record<string, string>;
  rules: RelabelConfigInput[];
  /** undefined: dropped. */
  output: Record<string, string> | undefined;
}

// Expected outputs are worked out from Prometheus's documented semantics (and, where noted,
// match the cases of Prometheus's own model/relabel tests).
const CASES: Case[] = [
  {
    name: "replace with groups and ${1} (Prometheus's first test case)",
    input: { a: "foo", b: "bar", c: "baz" },
    rules: [{
      source_labels: ["a"],
      regex: "f(.*)",
      target_label: "d",
      replacement: "ch${1}-ch${1}",
    }],
    output: { a: "foo", b: "bar", c: "baz", d: "choo-choo" },
  },
  {
    name: "replace joins source labels with the separator",
    input: { a: "foo", b: "bar", c: "baz" },
    rules: [{
      source_labels: ["a", "b"],
      regex: "f(.*);(.*)r",
      target_label: "a",
      replacement: "b${1}${2}m",
    }],
    output: { a: "boobam", b: "bar", c: "baz" },
  },
  {
    name: "replace with a custom separator",
    input: { a: "foo", b: "bar" },
    rules: [{ source_labels: ["a", "b"], separator: "-", target_label: "c" }],
    output: { a: "foo", b: "bar", c: "foo-bar" },
  },
  {
    name: "missing source labels are empty strings between separators",
    input: { a: "foo", b: "bar" },
    rules: [{ source_labels: ["a", "missing", "b"], target_label: "c" }],
    output: { a: "foo", b: "bar", c: "foo;;bar" },
  },
  {
    name: "replace with the defaults copies a label",
    input: { __meta_process_executable_name: "nginx", comm: "nginx" },
    rules: [{ source_labels: ["__meta_process_executable_name"], target_label: "exe" }],
    output: { __meta_process_executable_name: "nginx", comm: "nginx", exe: "nginx" },
  },
  {
    name: "replace from a missing label deletes the target ($1 expands to empty)",
    input: { a: "foo", b: "bar" },
    rules: [{ source_labels: ["missing"], target_label: "a" }],
    output: { b: "bar" },
  },
  {
    name: "replace with a literal replacement sets it even from empty sources",
    input: { a: "foo" },
    rules: [{ target_label: "team", replacement: "infra" }],
    output: { a: "foo", team: "infra" },
  },
  {
    name: "replace does nothing when the anchored regex does not match",
    input: { a: "foo" },
    rules: [{ source_labels: ["a"], regex: "o+", target_label: "b", replacement: "x" }],
    output: { a: "foo" },
  },
  {
    name: "regex alternatives are anchored as a group",
    input: { a: "foobar" },
    rules: [{ source_labels: ["a"], regex: "foo|bar", target_label: "b", replacement: "x" }],
    output: { a: "foobar" },
  },
  {
    name: "named groups expand with ${name} and $name",
    input: { a: "web-7f9c" },
    rules: [{
      source_labels: ["a"],
      regex: "(?P<app>[a-z]+)-(?P<hash>[0-9a-f]+)",
      target_label: "b",
      replacement: "${app}:$hash",
    }],
    output: { a: "web-7f9c", b: "web:7f9c" },
  },
  {
    name: "$1x names a group called 1x, which expands to nothing (Go semantics)",
    input: { a: "foo", b: "keep" },
    rules: [{ source_labels: ["a"], regex: "(f)oo", target_label: "b", replacement: "$1x" }],
    output: { a: "foo" },
  },
  {
    name: "$$ is a literal dollar, a malformed $ stays",
    input: { a: "foo" },
    rules: [{ source_labels: ["a"], regex: "(.*)", target_label: "b", replacement: "$$1 ${1 $-" }],
    output: { a: "foo", b: "$1 ${1 $-" },
  },
  {
    name: "a group that did not take part expands to empty",
    input: { a: "foo" },
    rules: [{
      source_labels: ["a"],
      regex: "(x)?(foo)",
      target_label: "b",
      replacement: "[$1][$2][$3]",
    }],
    output: { a: "foo", b: "[][foo][]" },
  },
  {
    name: "target_label with a template names the label from the value",
    input: { a: "some_name", b: "v" },
    rules: [{
      source_labels: ["a", "b"],
      regex: "(.*);(.*)",
      target_label: "${1}",
      replacement: "$2",
    }],
    output: { a: "some_name", b: "v", some_name: "v" },
  },
  {
    name: "a templated target that expands to an invalid name is skipped",
    input: { a: "1abc" },
    rules: [{ source_labels: ["a"], regex: "(.*)", target_label: "$1", replacement: "x" }],
    output: { a: "1abc" },
  },
  {
    name: "keep keeps a matching set",
    input: { comm: "nginx" },
    rules: [{ source_labels: ["comm"], regex: "nginx|postgres", action: "keep" }],
    output: { comm: "nginx" },
  },
  {
    name: "keep drops a set that does not match the whole value",
    input: { comm: "nginx-worker" },
    rules: [{ source_labels: ["comm"], regex: "nginx", action: "keep" }],
    output: undefined,
  },
  {
    name: "keep with an empty regex keeps only empty (missing) values",
    input: { a: "foo" },
    rules: [{ source_labels: ["missing"], regex: "", action: "keep" }],
    output: { a: "foo" },
  },
  {
    name: "drop drops a matching set; the action is case-insensitive",
    input: { a: "foo" },
    rules: [{ source_labels: ["a"], regex: "f.*", action: "DROP" }],
    output: undefined,
  },
  {
    name: "drop keeps a set that does not match",
    input: { a: "foo" },
    rules: [{ source_labels: ["a"], regex: "bar", action: "drop" }],
    output: { a: "foo" },
  },
  {
    name: "drop with the default regex drops everything",
    input: { a: "foo" },
    rules: [{ action: "drop" }],
    output: undefined,
  },
  {
    name: "keepequal keeps when the target equals the joined sources",
    input: { a: "foo", b: "foo" },
    rules: [{ source_labels: ["a"], target_label: "b", action: "keepequal" }],
    output: { a: "foo", b: "foo" },
  },
  {
    name: "keepequal drops when they differ",
    input: { a: "foo", b: "bar" },
    rules: [{ source_labels: ["a"], target_label: "b", action: "keepequal" }],
    output: undefined,
  },
  {
    name: "keepequal: a missing target equals empty sources",
    input: { a: "foo" },
    rules: [{ source_labels: ["missing"], target_label: "other", action: "keepequal" }],
    output: { a: "foo" },
  },
  {
    name: "dropequal drops when equal",
    input: { a: "foo", b: "foo" },
    rules: [{ source_labels: ["a"], target_label: "b", action: "dropequal" }],
    output: undefined,
  },
  {
    name: "dropequal keeps when different",
    input: { a: "foo", b: "bar" },
    rules: [{ source_labels: ["a"], target_label: "b", action: "dropequal" }],
    output: { a: "foo", b: "bar" },
  },
  {
    name: "hashmod: md5, last 8 bytes big-endian, mod 1000 (Prometheus's test: baz -> 976)",
    input: { a: "foo", b: "bar", c: "baz" },
    rules: [{ source_labels: ["c"], target_label: "d", modulus: 1000, action: "hashmod" }],
    output: { a: "foo", b: "bar", c: "baz", d: "976" },
  },
  {
    name: "hashmod of foo mod 1000",
    input: { a: "foo" },
    rules: [{ source_labels: ["a"], target_label: "h", modulus: 1000, action: "hashmod" }],
    output: { a: "foo", h: "696" },
  },
  {
    name: "hashmod of the empty string mod 10",
    input: { a: "foo" },
    rules: [{ source_labels: ["missing"], target_label: "h", modulus: 10, action: "hashmod" }],
    output: { a: "foo", h: "8" },
  },
  {
    name: "hashmod of joined values mod 7",
    input: { a: "a", b: "b" },
    rules: [{ source_labels: ["a", "b"], target_label: "h", modulus: 7, action: "hashmod" }],
    output: { a: "a", b: "b", h: "2" },
  },
  {
    name: "hashmod with the largest uint64 modulus keeps all 64 bits",
    input: { n: "node-1" },
    rules: [{
      source_labels: ["n"],
      target_label: "h",
      modulus: 18446744073709551615n,
      action: "hashmod",
    }],
    output: { n: "node-1", h: "16435858039672400462" },
  },
  {
    name: "labelmap with ${1} copies matching labels under new names",
    input: {
      __meta_kubernetes_pod_label_app: "web",
      __meta_kubernetes_pod_label_tier: "fe",
      a: "x",
    },
    rules: [{
      regex: "__meta_kubernetes_pod_label_(.+)",
      replacement: "${1}",
      action: "labelmap",
    }],
    output: {
      __meta_kubernetes_pod_label_app: "web",
      __meta_kubernetes_pod_label_tier: "fe",
      a: "x",
      app: "web",
      tier: "fe",
    },
  },
  {
    name: "labelmap with a prefix in the replacement",
    input: { foo: "bar", other: "o" },
    rules: [{ regex: "(f.*)", replacement: "my_$1", action: "labelmap" }],
    output: { foo: "bar", my_foo: "bar", other: "o" },
  },
  {
    name: "labelmap: of two labels mapping to one name, the later in name order wins",
    input: { a_x: "1", b_x: "2" },
    rules: [{ regex: "[ab]_(x)", replacement: "$1", action: "labelmap" }],
    output: { a_x: "1", b_x: "2", x: "2" },
  },
  {
    name: "labeldrop drops labels whose whole name matches",
    input: { a: "1", ab: "2", b: "3" },
    rules: [{ regex: "a.*", action: "labeldrop" }],
    output: { b: "3" },
  },
  {
    name: "labelkeep keeps only labels whose whole name matches",
    input: { a: "1", ab: "2", b: "3" },
    rules: [{ regex: "a", action: "labelkeep" }],
    output: { a: "1" },
  },
  {
    name: "lowercase and uppercase write the joined value",
    input: { a: "FoO", b: "bAr" },
    rules: [
      { source_labels: ["a"], target_label: "lower", action: "lowercase" },
      { source_labels: ["a", "b"], target_label: "upper", action: "uppercase" },
    ],
    output: { a: "FoO", b: "bAr", lower: "foo", upper: "FOO;BAR" },
  },
  {
    name: "lowercase of a missing label deletes the target",
    input: { a: "x", t: "old" },
    rules: [{ source_labels: ["missing"], target_label: "t", action: "lowercase" }],
    output: { a: "x" },
  },
  {
    name: "rules see the results of earlier rules",
    input: { comm: "nginx", __meta_process_executable_name: "nginx" },
    rules: [
      { source_labels: ["__meta_process_executable_name"], target_label: "exe" },
      { source_labels: ["exe"], regex: "nginx", action: "drop" },
    ],
    output: undefined,
  },
  {
    name: "__name__ is visible to rules",
    input: { __name__: "parca_agent_cpu", a: "x" },
    rules: [{ source_labels: ["__name__"], regex: "parca_agent_(.*)", target_label: "kind" }],
    output: { __name__: "parca_agent_cpu", a: "x", kind: "cpu" },
  },
  {
    name: "RE2 spellings: \\d, (?i), \\Q...\\E and POSIX classes",
    input: { a: "Web-12.x" },
    rules: [
      { source_labels: ["a"], regex: "(?i)web-(\\d+)\\Q.x\\E", target_label: "n" },
      { source_labels: ["a"], regex: "([[:alpha:]]+).*", target_label: "w" },
    ],
    output: { a: "Web-12.x", n: "12", w: "Web" },
  },
  {
    name: "empty input values count as absent",
    input: { a: "", b: "x" },
    rules: [{ source_labels: ["a"], regex: "", target_label: "c", replacement: "a was empty" }],
    output: { b: "x", c: "a was empty" },
  },
  {
    name: "no rules: the set unchanged",
    input: { b: "2", a: "1" },
    rules: [],
    output: { a: "1", b: "2" },
  },
];

Deno.test("relabelLabels() follows Prometheus semantics for every action", async (t) => {
  for (const c of CASES) {
    await t.step(c.name, () => {
      const rules = c.rules.map(compileRelabelConfig);
      deepStrictEqual(relabelLabels(c.input, rules), c.output);
    });
  }
});

Deno.test("relabelLabels() does not modify its input", () => {
  const input = { a: "foo" };
  relabelLabels(input, [
    compileRelabelConfig({ source_labels: ["a"], target_label: "a", replacement: "x" }),
  ]);
  deepStrictEqual(input, { a: "foo" });
});

const INVALID: Array<[RelabelConfigInput, RegExp]> = [
  [
    { source_labels: ["a"] },
    /^relabel configuration for replace action requires 'target_label' value$/,
  ],
  [
    { source_labels: ["a"], target_label: "b", action: "hashmod" },
    /^relabel configuration for hashmod requires non-zero modulus$/,
  ],
  [
    { action: "lowercase" },
    /^relabel configuration for lowercase action requires 'target_label' value$/,
  ],
  [{ action: "uppercase" }, /requires 'target_label' value$/],
  [{ action: "keepequal" }, /^relabel configuration for keepequal action requires 'target_label'/],
  [{ action: "dropequal" }, /^relabel configuration for dropequal action requires 'target_label'/],
  [{ target_label: "1abc" }, /^"1abc" is invalid 'target_label' for replace action$/],
  [{ target_label: "a-b" }, /^"a-b" is invalid 'target_label' for replace action$/],
  [{ target_label: "${1}-x" }, /^"\$\{1\}-x" is invalid 'target_label' for replace action$/],
  [
    { target_label: "l", action: "lowercase", replacement: "x" },
    /^'replacement' can not be set for lowercase action$/,
  ],
  [
    { target_label: "1l", action: "uppercase" },
    /^"1l" is invalid 'target_label' for uppercase action$/,
  ],
  [
    { regex: "(.*)", replacement: "a-$1", action: "labelmap" },
    /^"a-\$1" is invalid 'replacement' for labelmap action$/,
  ],
  [
    { target_label: "x-y", modulus: 2, action: "hashmod" },
    /^"x-y" is invalid 'target_label' for hashmod action$/,
  ],
  [
    { source_labels: ["a"], target_label: "b", regex: "(.*)", action: "keepequal" },
    /^keepequal action requires only 'source_labels' and `target_label`, and no other fields$/,
  ],
  [
    { source_labels: ["a"], target_label: "b", separator: ",", action: "dropequal" },
    /^dropequal action requires only 'source_labels' and `target_label`/,
  ],
  [
    { source_labels: ["a"], regex: "x", action: "labeldrop" },
    /^labeldrop action requires only 'regex', and no other fields$/,
  ],
  [
    { regex: "x", target_label: "t", action: "labelkeep" },
    /^labelkeep action requires only 'regex', and no other fields$/,
  ],
  [
    { regex: "x", replacement: "y", action: "labelkeep" },
    /^labelkeep action requires only 'regex'/,
  ],
  [{ action: "kepp" }, /^unknown relabel action "kepp"$/],
  [{ action: "" }, /^relabel action cannot be empty$/],
  [{ source_labels: ["a-b"], target_label: "c" }, /^"a-b" is not a valid label name$/],
  [
    { modulus: -1, target_label: "h", action: "hashmod" },
    /modulus -1 is not an unsigned 64-bit integer/,
  ],
  [
    { modulus: 1n << 64n, target_label: "h", action: "hashmod" },
    /is not an unsigned 64-bit integer/,
  ],
];

Deno.test("compileRelabelConfig() rejects what Prometheus rejects, with its messages", async (t) => {
  for (const [input, message] of INVALID) {
    await t.step(JSON.stringify(input, (_, v) => typeof v === "bigint" ? `${v}n` : v), () => {
      throws(() => compileRelabelConfig(input), (e: Error) => {
        equal(e instanceof TypeError, true, e.message);
        return message.test(e.message) || (() => {
          throw new Error(`message ${JSON.stringify(e.message)} does not match ${message}`);
        })();
      });
    });
  }
});

Deno.test("compileRelabelConfig() rejects invalid and JavaScript-only regexes", () => {
  throws(() => compileRelabelConfig({ regex: "(a", target_label: "b" }), SyntaxError);
  throws(() => compileRelabelConfig({ regex: "a(?=b)", target_label: "b" }), /Perl syntax/);
  throws(() => compileRelabelConfig({ regex: "(a)\\1", target_label: "b" }), /escape sequence/);
});

Deno.test("compileRelabelConfig() fills Prometheus's defaults", () => {
  const r = compileRelabelConfig({ target_label: "t" });
  equal(r.action, "replace");
  equal(r.separator, ";");
  equal(r.regexSource, "(.*)");
  equal(r.replacement, "$1");
  equal(r.modulus, 0n);
  deepStrictEqual(r.sourceLabels, []);
  // Explicit defaults are not "other fields" for keepequal.
  compileRelabelConfig({
    source_labels: ["a"],
    target_label: "b",
    separator: ";",
    replacement: "$1",
    action: "keepequal",
  });
});

Deno.test("finalizeLabels() drops __ labels and keeps __name__ first as the profile name", () => {
  const out = finalizeLabels(
    new Map([["z", "1"], ["__meta_x", "2"], ["__name__", "renamed"], ["a", "3"], ["__tmp", "4"]]),
    "parca_agent_cpu",
  );
  deepStrictEqual(Object.entries(out), [["__name__", "parca_agent_cpu"], ["a", "3"], ["z", "1"]]);
});

Deno.test("sanitizeLabelName() replaces every character outside [a-zA-Z0-9_]", () => {
  equal(sanitizeLabelName("app.kubernetes.io/name"), "app_kubernetes_io_name");
  equal(sanitizeLabelName("héllo-wörld"), "h_llo_w_rld");
});
