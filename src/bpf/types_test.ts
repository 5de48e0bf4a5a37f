// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual } from "node:assert/strict";
import { COUNTER_NAMES, COUNTERS_SIZE, STACK_COUNT_KEY, STACK_TRACE, StackFlags } from "./types.ts";

const BPF_DIR = new URL("../../bpf/", import.meta.url).pathname;

/** Compiles a C probe against bpf/types.h and returns what it prints as JSON. */
async function probeLayout(): Promise<Record<string, number>> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/probe.c`,
      `#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>
#include "types.h"
#define F(name, expr) printf("%s\\"%s\\":%lu", first ? "" : ",", name, (unsigned long)(expr)), first = 0
int main(void) {
  int first = 1;
  printf("{");
  F("trace.size", sizeof(struct stack_trace));
  F("trace.len", offsetof(struct stack_trace, len));
  F("trace.addrs", offsetof(struct stack_trace, addrs));
  F("key.size", sizeof(struct stack_count_key));
  F("key.pid", offsetof(struct stack_count_key, pid));
  F("key.tid", offsetof(struct stack_count_key, tid));
  F("key.userStackId", offsetof(struct stack_count_key, user_stack_id));
  F("key.kernelStackId", offsetof(struct stack_count_key, kernel_stack_id));
  F("key.threadComm", offsetof(struct stack_count_key, thread_comm));
  F("key.processComm", offsetof(struct stack_count_key, process_comm));
  F("key.flags", offsetof(struct stack_count_key, flags));
  F("counters.size", sizeof(struct counters));
  F("COUNTER_MAX", COUNTER_MAX);
  F("USER_TRUNCATED", STACK_FLAG_USER_TRUNCATED);
  F("USER_READ_ERROR", STACK_FLAG_USER_READ_ERROR);
  F("USER_DROPPED", STACK_FLAG_USER_DROPPED);
  F("KERNEL_DROPPED", STACK_FLAG_KERNEL_DROPPED);
  F("KERNEL_ERROR", STACK_FLAG_KERNEL_ERROR);
  F("IN_KERNEL", STACK_FLAG_IN_KERNEL);
  printf("}\\n");
  return 0;
}
`,
    );
    const cc = await new Deno.Command("cc", {
      args: ["-I", BPF_DIR, "-o", `${dir}/probe`, `${dir}/probe.c`],
    }).output();
    if (!cc.success) throw new Error(new TextDecoder().decode(cc.stderr));
    const run = await new Deno.Command(`${dir}/probe`).output();
    return JSON.parse(new TextDecoder().decode(run.stdout));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("types.ts mirrors the struct layouts and constants of bpf/types.h", async () => {
  const c = await probeLayout();
  deepStrictEqual(
    {
      "trace.size": STACK_TRACE.size,
      "trace.len": STACK_TRACE.len,
      "trace.addrs": STACK_TRACE.addrs,
      "key.size": STACK_COUNT_KEY.size,
      "key.pid": STACK_COUNT_KEY.pid,
      "key.tid": STACK_COUNT_KEY.tid,
      "key.userStackId": STACK_COUNT_KEY.userStackId,
      "key.kernelStackId": STACK_COUNT_KEY.kernelStackId,
      "key.threadComm": STACK_COUNT_KEY.threadComm,
      "key.processComm": STACK_COUNT_KEY.processComm,
      "key.flags": STACK_COUNT_KEY.flags,
      "counters.size": COUNTERS_SIZE,
      "COUNTER_MAX": COUNTER_NAMES.length,
      ...StackFlags,
    },
    c,
  );
});
