// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { KernelSymbols } from "./kallsyms.ts";

/** 200k lines shaped like a real kallsyms: mostly text, some data, modules at the end unsorted. */
function syntheticKallsyms(lines: number): string {
  const out: string[] = [];
  const core = Math.floor(lines * 0.9);
  for (let i = 0; i < core; i++) {
    const addr = (0xffffffff81000000n + BigInt(i * 48)).toString(16);
    const type = i % 20 === 0 ? "D" : i % 2 ? "t" : "T";
    out.push(`${addr} ${type} some_kernel_function_name_${i}`);
  }
  for (let i = lines - core - 1; i >= 0; i--) {
    const addr = (0xffffffffc0000000n + BigInt(i * 64)).toString(16);
    out.push(`${addr} t module_function_${i}\t[mod_${i % 40}]`);
  }
  return out.join("\n") + "\n";
}

const text = syntheticKallsyms(200_000);
const real = (() => {
  try {
    return Deno.readTextFileSync("/proc/kallsyms");
  } catch {
    return undefined;
  }
})();
const table = KernelSymbols.fromText(text);
const addrs = BigUint64Array.from(
  { length: 1024 },
  (_, i) => 0xffffffff81000000n + BigInt(i * 9973),
);

Deno.bench("KernelSymbols.fromText() parses 200k synthetic lines", { group: "parse" }, () => {
  KernelSymbols.fromText(text);
});

Deno.bench({
  name: "KernelSymbols.fromText() parses the host's /proc/kallsyms text",
  group: "parse",
  ignore: real === undefined,
  fn() {
    KernelSymbols.fromText(real!);
  },
});

Deno.bench("KernelSymbols.load() reads and parses /proc/kallsyms", {
  group: "load",
  ignore: real === undefined,
}, () => {
  KernelSymbols.load();
});

Deno.bench("KernelSymbols.lookup() x1024", { group: "lookup" }, () => {
  let sum = 0;
  for (let i = 0; i < addrs.length; i++) sum += table.lookup(addrs[i]);
  if (sum === -1) throw new Error("unreachable");
});
