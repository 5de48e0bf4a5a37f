// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, ok } from "node:assert/strict";
import { type AgentConfig, loadConfigFile } from "./config.ts";
import { ConfigWatcher, recordReload } from "./config_watcher.ts";
import { labelMetrics } from "./metrics.ts";

async function gauge(g: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> {
  return (await g.get()).values[0]?.value ?? NaN;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const KEEP_A = "relabel_configs:\n  - source_labels: [comm]\n    regex: a\n    action: keep\n";
const KEEP_B = "relabel_configs:\n  - source_labels: [comm]\n    regex: b\n    action: keep\n";
const BAD = "relabel_configs:\n  - source_labels: [comm]\n    action: kepp\n";

Deno.test("ConfigWatcher reloads good → bad (keeps old, gauge 0) → good (gauge 1)", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/agent.yaml`;
  await Deno.writeTextFile(path, KEEP_A);
  const initial = await loadConfigFile(path);
  recordReload(true);
  const applied: AgentConfig[] = [];
  const watcher = ConfigWatcher.start({
    path,
    initial,
    onReload: (c) => applied.push(c),
    settleMs: 50,
  });
  try {
    equal(await gauge(labelMetrics.configLastReloadSuccessful), 1);

    // An editor's save: write a temporary file, rename it over the config.
    await Deno.writeTextFile(`${dir}/.agent.yaml.swp`, KEEP_B);
    await Deno.rename(`${dir}/.agent.yaml.swp`, path);
    await until("the new config", () => applied.length === 1);
    equal(applied[0].relabelConfigs[0].regexSource, "b");
    equal(watcher.current.relabelConfigs[0].regexSource, "b");
    equal(await gauge(labelMetrics.configLastReloadSuccessful), 1);
    const goodAt = await gauge(labelMetrics.configLastReloadSuccessTimestamp);
    ok(Math.abs(goodAt - Date.now() / 1000) < 10);

    // A broken file: the previous config stays, the gauge goes to 0.
    await Deno.writeTextFile(path, BAD);
    await until(
      "the failed reload",
      async () => (await gauge(labelMetrics.configLastReloadSuccessful)) === 0,
    );
    equal(applied.length, 1);
    equal(watcher.current.relabelConfigs[0].regexSource, "b");
    equal(await gauge(labelMetrics.configLastReloadSuccessTimestamp), goodAt);

    // Deleted and written again (another way editors save): the good config is back.
    await Deno.remove(path);
    await Deno.writeTextFile(path, KEEP_A);
    await until("the recovered config", () => applied.length === 2);
    equal(watcher.current.relabelConfigs[0].regexSource, "a");
    equal(await gauge(labelMetrics.configLastReloadSuccessful), 1);
  } finally {
    await watcher.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ConfigWatcher ignores changes to other files and unchanged text", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/agent.yaml`;
  await Deno.writeTextFile(path, KEEP_A);
  const initial = await loadConfigFile(path);
  let reloads = 0;
  const watcher = ConfigWatcher.start({ path, initial, onReload: () => reloads++, settleMs: 30 });
  try {
    await Deno.writeTextFile(`${dir}/other.txt`, "x");
    await Deno.writeTextFile(path, KEEP_A); // same text
    await new Promise((r) => setTimeout(r, 300));
    equal(reloads, 0);
    equal(await watcher.reload(), true);
    equal(reloads, 0);
  } finally {
    await watcher.close();
    await Deno.remove(dir, { recursive: true });
  }
});

// Issue 9: a config path that is a symlink to a file in another directory was not reloaded when
// that file was edited (only the link's directory was watched).
Deno.test("ConfigWatcher notices an edit of a symlink's target in another directory", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/etc`);
  await Deno.mkdir(`${dir}/real`);
  await Deno.mkdir(`${dir}/real2`);
  const path = `${dir}/etc/agent.yaml`;
  await Deno.writeTextFile(`${dir}/real/agent.yaml`, KEEP_A);
  await Deno.symlink(`${dir}/real/agent.yaml`, path);
  const applied: AgentConfig[] = [];
  const watcher = ConfigWatcher.start({
    path,
    initial: await loadConfigFile(path),
    onReload: (c) => applied.push(c),
    settleMs: 50,
  });
  try {
    await Deno.writeTextFile(`${dir}/real/agent.yaml`, KEEP_B);
    await until("the edit of the target", () => applied.length === 1);
    equal(applied[0].relabelConfigs[0].regexSource, "b");
    // The link swapped to a file elsewhere: that directory is watched from then on.
    await Deno.writeTextFile(`${dir}/real2/agent.yaml`, KEEP_A);
    await Deno.remove(path);
    await Deno.symlink(`${dir}/real2/agent.yaml`, path);
    await until("the swapped link", () => applied.length === 2);
    await Deno.writeTextFile(`${dir}/real2/agent.yaml`, KEEP_B);
    await until("the edit of the new target", () => applied.length === 3);
    equal(watcher.current.relabelConfigs[0].regexSource, "b");
  } finally {
    await watcher.close();
    await Deno.remove(dir, { recursive: true });
  }
});

// Issue 9: a FIFO swapped in at the config path blocked the reload in open(), queued every later
// reload behind it and made SIGTERM hang until someone wrote to the FIFO.
Deno.test("ConfigWatcher refuses a FIFO swapped in at the path without blocking", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/agent.yaml`;
  await Deno.writeTextFile(path, KEEP_A);
  const applied: AgentConfig[] = [];
  const watcher = ConfigWatcher.start({
    path,
    initial: await loadConfigFile(path),
    onReload: (c) => applied.push(c),
    settleMs: 50,
  });
  try {
    await Deno.remove(path);
    const mk = await new Deno.Command("mkfifo", { args: [path] }).output();
    ok(mk.success);
    equal(await watcher.reload(), false, "refused, not waited on");
    equal(await gauge(labelMetrics.configLastReloadSuccessful), 0);
    await Deno.remove(path);
    await Deno.writeTextFile(`${dir}/tmp.yaml`, KEEP_B);
    await Deno.rename(`${dir}/tmp.yaml`, path);
    await until("the valid config after the FIFO", () => applied.length >= 1);
    equal(watcher.current.relabelConfigs[0].regexSource, "b");
  } finally {
    await watcher.close(); // Returns: nothing is stuck in an open().
    await Deno.remove(dir, { recursive: true });
  }
});
