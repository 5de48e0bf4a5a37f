// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { ConfigError, loadConfigFile, MAX_CONFIG_BYTES, parseConfig } from "./config.ts";

Deno.test("parseConfig() reads relabel_configs with every field", () => {
  const c = parseConfig(`# profile only two services
relabel_configs:
  - source_labels: [__meta_process_executable_name, comm]
    separator: "/"
    regex: "(.*)/(.*)"
    target_label: exe
    replacement: "$1"
    action: replace
  - source_labels:
      - comm
    regex: nginx|postgres
    action: keep
  - source_labels: [pid]
    target_label: shard
    modulus: 18446744073709551615
    action: hashmod
`);
  equal(c.empty, false);
  equal(c.relabelConfigs.length, 3);
  deepStrictEqual(c.relabelConfigs[0].sourceLabels, ["__meta_process_executable_name", "comm"]);
  equal(c.relabelConfigs[0].separator, "/");
  equal(c.relabelConfigs[1].action, "keep");
  equal(c.relabelConfigs[2].modulus, 18446744073709551615n);
});

Deno.test("parseConfig() accepts an empty file or one with only comments, as empty", () => {
  for (const text of ["", "# nothing here\n", "relabel_configs:\n", "relabel_configs: []\n"]) {
    const c = parseConfig(text);
    equal(c.relabelConfigs.length, 0);
    equal(c.empty, text === "" || text.startsWith("#"), text);
  }
});

Deno.test("parseConfig() gives null scalars Go's zero value", () => {
  const c = parseConfig(
    "relabel_configs:\n  - source_labels: [a]\n    target_label: b\n    replacement:\n",
  );
  equal(c.relabelConfigs[0].replacement, "");
  // Numbers where strings are expected keep their text, as a Go string field receives it.
  const d = parseConfig(
    "relabel_configs:\n  - source_labels: [a]\n    regex: 0123\n    target_label: b\n",
  );
  equal(d.relabelConfigs[0].regexSource, "0123");
});

const BAD: Array<[string, RegExp]> = [
  ["relabel_config:\n  - action: keep\n", /^line 1: unknown field "relabel_config"$/],
  [
    "relabel_configs:\n  - source_labels: [a]\n    target: b\n",
    /^line 3: relabel_configs\[0\]: unknown field "target"$/,
  ],
  [
    "relabel_configs:\n  - action: keep\n  - action: kepp\n",
    /^line 3: relabel_configs\[1\]: unknown relabel action "kepp"$/,
  ],
  [
    "relabel_configs:\n  - source_labels: [a]\n",
    /^line 2: relabel_configs\[0\]: relabel configuration for replace action requires 'target_label' value$/,
  ],
  [
    "relabel_configs:\n  - regex: '(a'\n    action: drop\n",
    /relabel_configs\[0\]: error parsing regexp/,
  ],
  ["relabel_configs: {a: 1}\n", /^line 1: relabel_configs must be a list$/],
  ["relabel_configs:\n  - keep\n", /^line 2: relabel_configs\[0\] must be a mapping$/],
  ["relabel_configs:\n  - source_labels: a\n    target_label: b\n", /source_labels must be a list/],
  [
    "relabel_configs:\n  - target_label: h\n    modulus: -3\n    action: hashmod\n",
    /modulus must be an unsigned integer, not "-3"/,
  ],
  ["relabel_configs:\n  - regex: [a]\n", /regex must be a string/],
  ["- a\n- b\n", /^line 1: the config must be a mapping$/],
  ["relabel_configs: [\n", /^invalid YAML: /],
  ["relabel_configs: []\nrelabel_configs: []\n", /^invalid YAML: .*[Mm]ap keys must be unique/],
];

Deno.test("parseConfig() rejects bad files with a line and the reason", async (t) => {
  for (const [text, message] of BAD) {
    await t.step(JSON.stringify(text), () => {
      throws(() => parseConfig(text), (e: Error) => {
        ok(e instanceof ConfigError);
        ok(!e.message.includes("\n"), "one line");
        ok(message.test(e.message), `message ${JSON.stringify(e.message)} vs ${message}`);
        return true;
      });
    });
  }
});

Deno.test("loadConfigFile() names the file in its one-line error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/agent.yaml`;
    await Deno.writeTextFile(path, "relabel_configs:\n  - action: nope\n");
    await rejects(loadConfigFile(path), (e: Error) => {
      equal(
        e.message,
        `Cannot load config file "${path}": line 2: relabel_configs[0]: unknown relabel action "nope"`,
      );
      return true;
    });
    await rejects(
      loadConfigFile(`${dir}/missing.yaml`),
      /^ConfigError: Cannot load config file ".*missing.yaml": /,
    );
    await Deno.writeTextFile(path, "relabel_configs:\n  - action: drop\n");
    equal((await loadConfigFile(path)).relabelConfigs[0].action, "drop");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Issue 9: --config-path=/dev/zero grew the agent to 10 GB in 16 s; a FIFO hung start-up.
Deno.test("loadConfigFile() refuses a FIFO, /dev/zero and an oversized file in one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fifo = `${dir}/fifo.yaml`;
    equal((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success, true);
    for (
      const [path, why] of [[fifo, /not a regular file$/], ["/dev/zero", /not a regular file$/]]
    ) {
      await rejects(loadConfigFile(path as string), (e: Error) => {
        equal(e instanceof ConfigError, true);
        equal(e.message, `Cannot load config file "${path}": not a regular file`);
        return (why as RegExp).test(e.message);
      });
    }
    const big = `${dir}/big.yaml`;
    await Deno.writeTextFile(big, "#".repeat(MAX_CONFIG_BYTES + 1));
    await rejects(loadConfigFile(big), /more than the 1048576 allowed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
