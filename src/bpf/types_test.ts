// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { probeCLayout } from "../../tests/_lib/c_layout.ts";
import {
  CfaKind,
  PACKED_ROW_SIZE,
  RbpKind,
  RULE_SIZE,
  UnsupportedReason,
  WasmErrorCode,
} from "../unwind/mod.ts";
import {
  AGENT_CONFIG,
  COUNT_SLOT,
  COUNT_SLOTS,
  COUNTER_NAMES,
  COUNTERS_SIZE,
  EVENT,
  EventType,
  EXEC_MAPPING,
  KERNEL_STACK,
  MappingKind,
  MAX_KERNEL_STACK_DEPTH,
  MAX_MAPPINGS_PER_PROCESS,
  MAX_UNWIND_TABLES,
  MAX_USER_STACK_DEPTH,
  PROCESS_INSTANCE,
  PROCESS_MAPPINGS,
  STACK_COUNT_KEY,
  StackFlags,
  UNWIND_CHUNK_ROWS,
  UNWIND_CHUNKS,
  UNWIND_ERROR_NAMES,
  UNWIND_ROW,
  UNWIND_RULE,
  UNWIND_TABLE_REF,
  USER_STACK,
  USER_STACK_SHORT,
  USER_STACK_SHORT_DEPTH,
} from "./types.ts";

const WASM_SRC = new URL("../../wasm-unwind/src/", import.meta.url).pathname;

/** C expressions whose values must equal the TS mirror, by name. */
const PROBES: Record<string, string> = {
  "MAX_USER_STACK_DEPTH": "MAX_USER_STACK_DEPTH",
  "MAX_KERNEL_STACK_DEPTH": "MAX_KERNEL_STACK_DEPTH",
  "MAX_MAPPINGS_PER_PROCESS": "MAX_MAPPINGS_PER_PROCESS",
  "user.size": "sizeof(struct user_stack)",
  "user.addrs": "offsetof(struct user_stack, addrs)",
  "USER_STACK_SHORT_DEPTH": "USER_STACK_SHORT_DEPTH",
  "userShort.size": "sizeof(struct user_stack_short)",
  "userShort.addrs": "offsetof(struct user_stack_short, addrs)",
  "kernel.size": "sizeof(struct kernel_stack)",
  "kernel.addrs": "offsetof(struct kernel_stack, addrs)",
  "key.size": "sizeof(struct stack_count_key)",
  "key.pid": "offsetof(struct stack_count_key, pid)",
  "key.tid": "offsetof(struct stack_count_key, tid)",
  "key.userStackId": "offsetof(struct stack_count_key, user_stack_id)",
  "key.kernelStackId": "offsetof(struct stack_count_key, kernel_stack_id)",
  "key.threadComm": "offsetof(struct stack_count_key, thread_comm)",
  "key.processComm": "offsetof(struct stack_count_key, process_comm)",
  "key.flags": "offsetof(struct stack_count_key, flags)",
  "key.unwindError": "offsetof(struct stack_count_key, unwind_error)",
  "key.instance": "offsetof(struct stack_count_key, instance)",
  "COUNT_SLOTS": "COUNT_SLOTS",
  "slot.size": "sizeof(struct count_slot)",
  "slot.key": "offsetof(struct count_slot, key)",
  "slot.count": "offsetof(struct count_slot, count)",
  "slot.window": "offsetof(struct count_slot, window)",
  "slots.size": "sizeof(struct count_slots)",
  "map.size": "sizeof(struct exec_mapping)",
  "map.start": "offsetof(struct exec_mapping, start)",
  "map.end": "offsetof(struct exec_mapping, end)",
  "map.tableBias": "offsetof(struct exec_mapping, table_bias)",
  "map.exeId": "offsetof(struct exec_mapping, exe_id)",
  "map.rows": "offsetof(struct exec_mapping, rows)",
  "map.kind": "offsetof(struct exec_mapping, kind)",
  "proc.size": "sizeof(struct process_mappings)",
  "proc.mappings": "offsetof(struct process_mappings, mappings)",
  "proc.instance": "offsetof(struct process_mappings, instance)",
  "inst.size": "sizeof(struct process_instance)",
  "inst.startNs": "offsetof(struct process_instance, start_ns)",
  "inst.id": "offsetof(struct process_instance, id)",
  "inst.execGen": "offsetof(struct process_instance, exec_gen)",
  "inst.sampled": "offsetof(struct process_instance, sampled)",
  "row.size": "sizeof(struct unwind_row)",
  "row.rule": "offsetof(struct unwind_row, rule)",
  "UNWIND_CHUNK_ROWS": "UNWIND_CHUNK_ROWS",
  "UNWIND_CHUNKS": "UNWIND_CHUNKS",
  "MAX_UNWIND_TABLES": "MAX_UNWIND_TABLES",
  "tableRef.size": "sizeof(struct unwind_table_ref)",
  "tableRef.rows": "offsetof(struct unwind_table_ref, rows)",
  "rule.size": "sizeof(struct unwind_rule)",
  "rule.raOffset": "offsetof(struct unwind_rule, ra_offset)",
  "rule.cfaOffset": "offsetof(struct unwind_rule, cfa_offset)",
  "rule.rbpOffset": "offsetof(struct unwind_rule, rbp_offset)",
  "event.size": "sizeof(struct event)",
  "event.pid": "offsetof(struct event, pid)",
  "event.ktimeNs": "offsetof(struct event, ktime_ns)",
  "event.instance": "offsetof(struct event, instance)",
  "event.execGen": "offsetof(struct event, exec_gen)",
  "event.startNs": "offsetof(struct event, start_ns)",
  "config.size": "sizeof(struct agent_config)",
  "config.dwarfEnabled": "offsetof(struct agent_config, dwarf_enabled)",
  "config.mixedMode": "offsetof(struct agent_config, mixed_mode)",
  "config.interpTiming": "offsetof(struct agent_config, interp_timing)",
  "config.eventIntervalNs": "offsetof(struct agent_config, event_interval_ns)",
  "counters.size": "sizeof(struct counters)",
  "COUNTER_MAX": "COUNTER_MAX",
  "UNWIND_ERROR_MAX": "UNWIND_ERROR_MAX",
  "USER_TRUNCATED": "STACK_FLAG_USER_TRUNCATED",
  "USER_ERROR": "STACK_FLAG_USER_ERROR",
  "USER_DROPPED": "STACK_FLAG_USER_DROPPED",
  "KERNEL_DROPPED": "STACK_FLAG_KERNEL_DROPPED",
  "KERNEL_ERROR": "STACK_FLAG_KERNEL_ERROR",
  "IN_KERNEL": "STACK_FLAG_IN_KERNEL",
  "TABLES_PENDING": "STACK_FLAG_TABLES_PENDING",
  "INTERP_FRAMES": "STACK_FLAG_INTERP_FRAMES",
  "FP_FALLBACK": "STACK_FLAG_FP_FALLBACK",
  "kind.FP": "MAPPING_KIND_FP",
  "kind.DWARF": "MAPPING_KIND_DWARF",
  "kind.VDSO": "MAPPING_KIND_VDSO",
  "kind.JIT": "MAPPING_KIND_JIT",
  "kind.PENDING": "MAPPING_KIND_PENDING",
  "event.NEW_PROCESS": "EVENT_NEW_PROCESS",
  "event.MAPPINGS_CHANGED": "EVENT_MAPPINGS_CHANGED",
  "event.EXEC": "EVENT_EXEC",
  "event.EXIT": "EVENT_EXIT",
  "cfa.EndOfFunction": "CFA_END_OF_FUNCTION",
  "cfa.RspOffset": "CFA_RSP_OFFSET",
  "cfa.RbpOffset": "CFA_RBP_OFFSET",
  "cfa.Plt1": "CFA_PLT1",
  "cfa.Plt2": "CFA_PLT2",
  "cfa.SignalFrame": "CFA_SIGNAL_FRAME",
  "cfa.RaUndefined": "CFA_RA_UNDEFINED",
  "cfa.ExprUnsupported": "CFA_UNSUPPORTED",
  "cfa.FramePointer": "CFA_FRAME_POINTER",
  "cfa.GoAsmcgocall": "CFA_GO_ASMCGOCALL",
  "cfa.GoSystemstack": "CFA_GO_SYSTEMSTACK",
  "rbp.Unchanged": "RBP_UNCHANGED",
  "rbp.CfaOffset": "RBP_CFA_OFFSET",
  "rbp.RspOffset": "RBP_RSP_OFFSET",
  "rbp.Unsupported": "RBP_UNSUPPORTED",
};

Deno.test("types.ts mirrors the struct layouts and constants of bpf/types.h", async () => {
  const c = await probeCLayout("types.h", PROBES);
  const prefixed = (p: string, o: Record<string, number>) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [`${p}.${k}`, v]));
  deepStrictEqual(c, {
    MAX_USER_STACK_DEPTH,
    MAX_KERNEL_STACK_DEPTH,
    MAX_MAPPINGS_PER_PROCESS,
    "user.size": USER_STACK.size,
    "user.addrs": USER_STACK.addrs,
    USER_STACK_SHORT_DEPTH,
    "userShort.size": USER_STACK_SHORT.size,
    "userShort.addrs": USER_STACK_SHORT.addrs,
    "kernel.size": KERNEL_STACK.size,
    "kernel.addrs": KERNEL_STACK.addrs,
    ...prefixed("key", STACK_COUNT_KEY),
    COUNT_SLOTS,
    ...prefixed("slot", COUNT_SLOT),
    "slots.size": COUNT_SLOTS * COUNT_SLOT.size,
    ...prefixed("map", {
      size: EXEC_MAPPING.size,
      start: EXEC_MAPPING.start,
      end: EXEC_MAPPING.end,
      tableBias: EXEC_MAPPING.tableBias,
      exeId: EXEC_MAPPING.exeId,
      rows: EXEC_MAPPING.rows,
      kind: EXEC_MAPPING.kind,
    }),
    "proc.size": PROCESS_MAPPINGS.size,
    "proc.mappings": PROCESS_MAPPINGS.mappings,
    "proc.instance": PROCESS_MAPPINGS.instance,
    ...prefixed("inst", PROCESS_INSTANCE),
    "row.size": UNWIND_ROW.size,
    "row.rule": UNWIND_ROW.rule,
    UNWIND_CHUNK_ROWS,
    UNWIND_CHUNKS,
    MAX_UNWIND_TABLES,
    "tableRef.size": UNWIND_TABLE_REF.size,
    "tableRef.rows": UNWIND_TABLE_REF.rows,
    "rule.size": UNWIND_RULE.size,
    "rule.raOffset": UNWIND_RULE.raOffset,
    "rule.cfaOffset": UNWIND_RULE.cfaOffset,
    "rule.rbpOffset": UNWIND_RULE.rbpOffset,
    "event.size": EVENT.size,
    "event.pid": EVENT.pid,
    "event.ktimeNs": EVENT.ktimeNs,
    "event.instance": EVENT.instance,
    "event.execGen": EVENT.execGen,
    "event.startNs": EVENT.startNs,
    "config.size": AGENT_CONFIG.size,
    "config.dwarfEnabled": AGENT_CONFIG.dwarfEnabled,
    "config.mixedMode": AGENT_CONFIG.mixedMode,
    "config.interpTiming": AGENT_CONFIG.interpTiming,
    "config.eventIntervalNs": AGENT_CONFIG.eventIntervalNs,
    "counters.size": COUNTERS_SIZE,
    COUNTER_MAX: COUNTER_NAMES.length,
    UNWIND_ERROR_MAX: UNWIND_ERROR_NAMES.length,
    ...StackFlags,
    ...prefixed("kind", MappingKind),
    ...prefixed("event", {
      NEW_PROCESS: EventType.NEW_PROCESS,
      MAPPINGS_CHANGED: EventType.MAPPINGS_CHANGED,
      EXEC: EventType.EXEC,
      EXIT: EventType.EXIT,
    }),
    ...prefixed("cfa", CfaKind),
    ...prefixed("rbp", RbpKind),
  });
  // The rule and row sizes wasm-unwind and the table store use are the header's.
  strictEqual(RULE_SIZE, c["rule.size"]);
  strictEqual(PACKED_ROW_SIZE, c["row.size"]);
});

/** `Name = value` pairs of a Rust enum (or of `Enum::Name => value` match arms) in a source. */
function rustValues(source: string, pattern: RegExp): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of source.matchAll(pattern)) out[m[1]] = Number(m[2]);
  return out;
}

function rustEnum(source: string, name: string): Record<string, number> {
  const body = new RegExp(`pub enum ${name} \\{([^}]*)\\}`).exec(source)?.[1];
  if (!body) throw new Error(`enum ${name} not found`);
  return rustValues(body, /^\s*(\w+) = (\d+),/gm);
}

Deno.test("wasm-unwind's rule kinds, rule size and error codes are the ones TS and C use", async () => {
  const rule = await Deno.readTextFile(`${WASM_SRC}rule.rs`);
  deepStrictEqual(rustEnum(rule, "CfaKind"), { ...CfaKind });
  deepStrictEqual(rustEnum(rule, "RbpKind"), { ...RbpKind });
  deepStrictEqual(rustEnum(rule, "UnsupportedReason"), { ...UnsupportedReason });
  strictEqual(Number(/pub const RULE_SIZE: usize = (\d+);/.exec(rule)?.[1]), RULE_SIZE);
  const error = await Deno.readTextFile(`${WASM_SRC}error.rs`);
  deepStrictEqual(
    rustValues(error, /Error::(\w+)(?:\([^)]*\)| \{ \.\. \})? => (\d+),/g),
    { ...WasmErrorCode },
  );
});
