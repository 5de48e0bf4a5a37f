// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, ok, throws } from "node:assert/strict";
import { KernelSymbols } from "./kallsyms.ts";

const FIXTURE = [
  "0000000000000000 A fixed_percpu_data",
  "ffffffff81000000 T _stext",
  "ffffffff81000000 T srso_alias_untrain_ret",
  "ffffffff81000000 t __alias_local",
  "ffffffff81001000 T do_idle",
  "ffffffff81002000 D some_data",
  "ffffffff81002100 R some_rodata",
  "ffffffff81002200 b some_bss",
  "ffffffff81003000 t local_helper",
  "ffffffff81004000 W weak_fn",
  // Module symbols come after the core kernel and are not in address order.
  "ffffffffc0a02000 t mod_second\t[nf_tables]",
  "ffffffffc0a01000 T mod_first\t[nf_tables]",
  "ffffffffc0b00000 d mod_data\t[nf_tables]",
  "",
].join("\n");

function nameAt(k: KernelSymbols, addr: bigint): string | undefined {
  const i = k.lookup(addr);
  return i < 0 ? undefined : k.name(i);
}

Deno.test("KernelSymbols.fromText() keeps only text symbols, sorted, with module names", () => {
  const k = KernelSymbols.fromText(FIXTURE);
  const names = Array.from({ length: k.size }, (_, i) => k.name(i));
  equal(
    names.join(","),
    "srso_alias_untrain_ret,do_idle,local_helper,weak_fn,mod_first [nf_tables],mod_second [nf_tables]",
  );
  equal(k.restricted, false);
  equal(k.address(1), 0xffffffff81001000n);
});

Deno.test("KernelSymbols.lookup() finds symbols at, between and before addresses", () => {
  const k = KernelSymbols.fromText(FIXTURE);
  equal(nameAt(k, 0xffffffff81001000n), "do_idle"); // exact start
  equal(nameAt(k, 0xffffffff81001fffn), "do_idle"); // just before the next symbol
  equal(nameAt(k, 0xffffffff81002150n), "do_idle"); // data symbols do not end functions
  equal(nameAt(k, 0xffffffff81000000n), "srso_alias_untrain_ret"); // global alias wins
  equal(nameAt(k, 0xffffffff80ffffffn), undefined); // before the first symbol
  equal(nameAt(k, 0x00007f0000001000n), undefined); // a user address
  equal(nameAt(k, 0xffffffffc0a01800n), "mod_first [nf_tables]");
  equal(nameAt(k, 0xffffffffc0a02010n), "mod_second [nf_tables]");
  // kallsyms has no sizes: past the last symbol the nearest lower one is accepted.
  equal(nameAt(k, 0xffffffffffff0000n), "mod_second [nf_tables]");
  equal(k.lookupParts(0xffffffff, 0x81003004), k.lookup(0xffffffff81003004n));
});

Deno.test("KernelSymbols looks up across 4 GiB ranges, with one upper half or several", () => {
  // aarch64-style addresses: all under one upper half, then spread over two.
  const one = KernelSymbols.fromText("ffff800080010000 T a\nffff800080020000 T b\n");
  equal(nameAt(one, 0xffff800080010004n), "a");
  equal(nameAt(one, 0xffff800080020000n), "b");
  equal(nameAt(one, 0xffff80007fffffffn), undefined);
  equal(nameAt(one, 0xffff7fffffffffffn), undefined); // a lower upper half
  equal(nameAt(one, 0xffff800100000000n), "b"); // a higher upper half: past the last symbol
  equal(one.address(1), 0xffff800080020000n);
  const two = KernelSymbols.fromText(
    "ffff800080010000 T a\nffff8000fffff000 T b\nffff800100000010 T c\n",
  );
  equal(nameAt(two, 0xffff8000fffff100n), "b");
  equal(nameAt(two, 0xffff800100000000n), "b");
  equal(nameAt(two, 0xffff800100000010n), "c");
  equal(nameAt(two, 0xffff80007fffffffn), undefined);
  equal(two.address(2), 0xffff800100000010n);
  equal(KernelSymbols.fromText("").lookup(0xffffffff81000000n), -1);
});

Deno.test("KernelSymbols.fromText() merges out-of-order entries into the sorted prefix", () => {
  const k = KernelSymbols.fromText([
    "ffffffff81000000 T a",
    "ffffffff81003000 T d",
    "ffffffff81005000 T f",
    "ffffffff81004000 t e\t[m]",
    "ffffffff81001000 t b\t[m]",
    "ffffffff81003000 t d_alias\t[m]", // same address as d: the earlier, global d stays
    "ffffffff81000500 t a2\t[m]",
    "ffffffff81006000 t g\t[m]",
  ].join("\n"));
  const names = Array.from({ length: k.size }, (_, i) => k.name(i));
  equal(names.join(","), "a,a2 [m],b [m],d,e [m],f,g [m]");
  equal(nameAt(k, 0xffffffff81004800n), "e [m]");
});

Deno.test("KernelSymbols.fromText() reports restricted addresses", () => {
  const k = KernelSymbols.fromText("0000000000000000 T _stext\n0000000000000000 t do_idle\n");
  equal(k.size, 0);
  equal(k.restricted, true);
  equal(k.lookup(0xffffffff81000000n), -1);
});

Deno.test("KernelSymbols.fromText() skips malformed lines", () => {
  const k = KernelSymbols.fromText(
    "garbage\nffffffff81000000T nospace\n\nffffffff81001000 T good\n123456789abcdef012 T too_long\n",
  );
  equal(k.size, 1);
  equal(k.name(0), "good");
  equal(KernelSymbols.fromText("").size, 0);
  equal(
    KernelSymbols.fromText("ffffffff81001000 T last_without_newline").name(0),
    "last_without_newline",
  );
});

Deno.test("KernelSymbols.name() rejects out-of-range indexes", () => {
  const k = KernelSymbols.fromText(FIXTURE);
  throws(() => k.name(-1), RangeError);
  throws(() => k.name(k.size), RangeError);
});

Deno.test("KernelSymbols.refreshIfChanged() rebuilds only when the module list changes", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const kallsyms = `${dir}/kallsyms`;
    const modules = `${dir}/modules`;
    Deno.writeTextFileSync(kallsyms, "ffffffff81000000 T _stext\n");
    Deno.writeTextFileSync(modules, "nf_tables 1 0 - Live 0xffffffffc0a00000\n");
    const k = KernelSymbols.load(kallsyms, modules);
    equal(k.size, 1);
    Deno.writeTextFileSync(kallsyms, "ffffffff81000000 T _stext\nffffffffc0b00000 t x\t[m2]\n");
    equal(k.refreshIfChanged(), false); // modules unchanged: kallsyms is not re-read
    equal(k.size, 1);
    Deno.writeTextFileSync(modules, "nf_tables 1 0 - Live 0xffffffffc0a00000\nm2 1 0 - Live 0\n");
    equal(k.refreshIfChanged(), true);
    equal(k.size, 2);
    equal(k.name(k.lookup(0xffffffffc0b00010n)), "x [m2]");
    equal(k.refreshIfChanged(), false);

    // A kernel without modules has no /proc/modules and never refreshes.
    const noMods = KernelSymbols.load(kallsyms, `${dir}/missing`);
    equal(noMods.refreshIfChanged(), false);
    equal(KernelSymbols.fromText(FIXTURE).refreshIfChanged(), false);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("KernelSymbols.load() resolves do_syscall_64 in the real /proc/kallsyms", async (t) => {
  let text: string;
  try {
    text = Deno.readTextFileSync("/proc/kallsyms");
  } catch (e) {
    await t.step({ name: `skipped: /proc/kallsyms unreadable (${e})`, ignore: true, fn() {} });
    return;
  }
  const line = text.split("\n").find((l) => l.endsWith(" do_syscall_64"));
  const addr = line === undefined ? 0n : BigInt(`0x${line.slice(0, line.indexOf(" "))}`);
  if (addr === 0n) {
    const why = line === undefined
      ? "no do_syscall_64 symbol"
      : "addresses hidden by kptr_restrict";
    await t.step({ name: `skipped: ${why}`, ignore: true, fn() {} });
    return;
  }
  const started = performance.now();
  const k = KernelSymbols.load();
  const ms = performance.now() - started;
  ok(k.size > 1000, `only ${k.size} symbols`);
  equal(k.restricted, false);
  equal(k.name(k.lookup(addr)), "do_syscall_64");
  equal(k.name(k.lookup(addr + 5n)), "do_syscall_64");
  equal(k.address(k.lookup(addr + 5n)), addr);
  ok(ms < 1000, `load took ${ms.toFixed(0)} ms`);
});
