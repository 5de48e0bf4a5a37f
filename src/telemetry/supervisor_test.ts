// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { superviseChild, TailBuffer } from "./supervisor.ts";

const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("TailBuffer keeps only the last bytes", () => {
  const t = new TailBuffer(10);
  t.push(enc("0123456"));
  t.push(enc("789ab"));
  strictEqual(t.text(), "23456789ab");
  t.push(enc("a much longer line than ten bytes"));
  strictEqual(t.text(), " ten bytes");
  strictEqual(t.size, 10);
});

Deno.test("superviseChild reports a child killed by a signal, with its last stderr", async () => {
  const reports: Array<[string, string]> = [];
  const code = await superviseChild({
    command: "bash",
    args: ["-c", "echo first line >&2; echo 'panic: something broke' >&2; kill -SEGV $$"],
    stderrBufferBytes: 16,
    log: quiet,
    report: (stderr, exit) => {
      reports.push([stderr, exit]);
      return Promise.resolve();
    },
  });
  strictEqual(code, 128 + 11);
  strictEqual(reports.length, 1);
  // The last 16 bytes: the end of the panic line, not the first line.
  deepStrictEqual(reports[0], ["something broke\n", "signal SIGSEGV"]);
});

Deno.test("superviseChild reports a non-zero exit and passes the code on", async () => {
  const reports: string[] = [];
  const code = await superviseChild({
    command: "bash",
    args: ["-c", "echo oops >&2; exit 3"],
    stderrBufferBytes: 4096,
    log: quiet,
    report: (stderr, exit) => {
      reports.push(`${exit}: ${stderr}`);
      return Promise.resolve();
    },
  });
  strictEqual(code, 3);
  deepStrictEqual(reports, ["exit code 3: oops\n"]);
});

Deno.test("superviseChild sends nothing when the child exits cleanly", async () => {
  let reported = false;
  const code = await superviseChild({
    command: "bash",
    args: ["-c", "exit 0"],
    stderrBufferBytes: 4096,
    log: quiet,
    report: () => {
      reported = true;
      return Promise.resolve();
    },
  });
  strictEqual(code, 0);
  strictEqual(reported, false);
});
