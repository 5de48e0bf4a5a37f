// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, throws } from "node:assert/strict";
import { readBearerToken } from "./transport.ts";

// Issue 9: --remote-store-bearer-token-file=/dev/zero grew the agent to 7 GB in 5 s, a FIFO hung
// start-up, and an empty file was accepted silently (every call then went unauthenticated).
Deno.test("readBearerToken() refuses a FIFO, /dev/zero and an empty file in one line", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const fifo = `${dir}/fifo`;
    new Deno.Command("mkfifo", { args: [fifo] }).outputSync();
    Deno.writeTextFileSync(`${dir}/empty`, " \n\t\n");
    Deno.writeTextFileSync(`${dir}/big`, "x".repeat(64 * 1024 + 1));
    for (
      const [file, why] of [
        [fifo, "not a regular file"],
        ["/dev/zero", "not a regular file"],
        [`${dir}/empty`, "the file is empty"],
        [`${dir}/big`, "65537 bytes, more than the 65536 allowed"],
        [`${dir}/missing`, "no such file or directory"],
      ]
    ) {
      throws(() => readBearerToken("", file), (e: Error) => {
        equal(e.message, `Cannot read --remote-store-bearer-token-file "${file}": ${why}`);
        return true;
      });
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("readBearerToken() trims the file and prefers the flag", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/token`, "  s3cret\n");
    equal(readBearerToken("", `${dir}/token`), "s3cret");
    equal(readBearerToken("flag", `${dir}/token`), "flag");
    equal(readBearerToken("", ""), "");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
