// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Recognises a CRuby process: rb_vm_exec's range, and how to reach the sampled thread's
 * `ruby_current_ec` through the DTV. Debian's libruby-3.1 has DTPMOD64/DTPOFF64 relocations
 * for it (general-dynamic TLS, no static offset): the module id and offset are what the dynamic
 * linker wrote into their GOT slots, read from the process's memory.
 *
 * @module
 */

import type { ProcMapping } from "../../process/mod.ts";
import { type InterpInfo, InterpKind } from "../bpf_types.ts";
import { R_X86_64_DTPMOD64, R_X86_64_DTPOFF64 } from "../_elf_symbols.ts";
import { findMapping, type MappedFileOpener, mappedImage } from "../_image.ts";
import { Fields, type ProcessMemory } from "../memory.ts";
import { type RubyLayout, rubyLayout } from "./layout.ts";

const RUBY_SYMBOLS = new Set(["rb_vm_exec", "ruby_current_ec", "ruby_version"]);

/** A recognised CRuby process. */
export interface RubyProcess {
  version: string;
  path: string;
  layout: RubyLayout;
  info: InterpInfo;
}

/** Why a process is not (yet) walked as Ruby. */
export type RubyDetectFailure =
  | { kind: "not-ruby" }
  | { kind: "unsupported"; version: string }
  | { kind: "not-ready"; reason: string }
  | { kind: "error"; reason: string };

/**
 * Looks for CRuby in a process.
 *
 * @param pid The process.
 * @param maps Its mappings.
 * @param files Opens its mapped files safely.
 * @param mem Reads its memory.
 * @returns The process's facts, or why there are none.
 */
export function detectRuby(
  pid: number,
  maps: ProcMapping[],
  files: MappedFileOpener,
  mem: ProcessMemory,
): RubyProcess | RubyDetectFailure {
  // A shared build keeps the VM in libruby (Debian's executable is `ruby3.1`, a source build's
  // `ruby`); a static one in the executable.
  const found = findMapping(maps, /^libruby[-.]/) ?? findMapping(maps, /^ruby(\d+\.\d+)?$/);
  if (!found) return { kind: "not-ruby" };
  const img = mappedImage(pid, found.m, files, RUBY_SYMBOLS);
  if (!img) return { kind: "error", reason: `cannot read the ELF symbols of ${found.m.path}` };
  const exec = img.symbols.get("rb_vm_exec");
  const ec = img.symbols.get("ruby_current_ec");
  const ver = img.symbols.get("ruby_version");
  if (!exec || !ec || !ver) {
    // An executable without the VM is a shared build's: right after its exec, before ld.so has
    // mapped libruby, that is all there is. It is examined again.
    return found.m.path.includes("libruby")
      ? { kind: "error", reason: `${found.m.path} lacks rb_vm_exec or ruby_current_ec` }
      : { kind: "not-ready", reason: `${found.m.path} links libruby, not mapped yet` };
  }
  const vb = mem.read(ver.value + img.bias, Math.min(ver.size || 16, 16));
  const version = vb ? new TextDecoder().decode(vb).split("\0")[0] : "";
  const [major, minor] = version.split(".").map(Number);
  const layout = rubyLayout(major, minor);
  if (!layout) return { kind: "unsupported", version };
  const mod = img.relocations.find((r) =>
    r.symbol === "ruby_current_ec" && r.type === R_X86_64_DTPMOD64
  );
  const off = img.relocations.find((r) =>
    r.symbol === "ruby_current_ec" && r.type === R_X86_64_DTPOFF64
  );
  if (!mod || !off) return { kind: "error", reason: "ruby_current_ec has no DTV relocations" };
  const modSlot = mem.read(mod.offset + img.bias, 8);
  const offSlot = mem.read(off.offset + img.bias, 8);
  if (!modSlot || !offSlot) return { kind: "error", reason: "cannot read the TLS GOT slots" };
  const tlsModule = new Fields(modSlot).ptr(0);
  if (tlsModule === 0) return { kind: "not-ready", reason: "TLS module id not assigned yet" };
  return {
    version,
    path: img.path,
    layout,
    info: {
      kind: InterpKind.RUBY,
      version: (major << 16) | (minor << 8) | (Number(version.split(".")[2]) || 0),
      loopStart: exec.value + img.bias,
      loopEnd: exec.value + img.bias + exec.size,
      coldStart: 0,
      coldEnd: 0,
      tlsKeyAddr: 0,
      tlsModule,
      tlsOffset: new Fields(offSlot).ptr(0),
      tsdOffset: 0,
      rb: layout.bpf,
    },
  };
}
