// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Where CRuby keeps what the profiler reads, per minor version. Only 3.1 (Debian 12's ruby) is
 * listed: it is the version tested here, and the layouts of rb_control_frame_t and
 * rb_iseq_constant_body change between minor versions. Sources: vm_core.h, iseq.h, iseq.c
 * (succ_index_table) and include/ruby/internal/core/{rstring,rarray}.h of 3.1; checked against
 * Debian's libruby-3.1 (src/interp/ruby/ruby_test.ts).
 *
 * @module
 */

import type { RubyBpfOffsets } from "../bpf_types.ts";

/** Everything version-specific about one CRuby minor version. */
export interface RubyLayout {
  minor: number;
  bpf: RubyBpfOffsets;
  /** rb_iseq_t.body. */
  iseqBody: number;
  /** rb_iseq_constant_body fields. */
  body: {
    iseqSize: number;
    iseqEncoded: number;
    pathobj: number;
    label: number;
    firstLineno: number;
    insnsInfoBody: number;
    insnsInfoPositions: number;
    insnsInfoSize: number;
    succIndexTable: number;
    /** Bytes to read to cover the fields above. */
    readSize: number;
  };
  /** sizeof(struct iseq_insn_info_entry); line_no is its first field. */
  insnInfoEntrySize: number;
}

const RUBY_31: RubyLayout = {
  minor: 1,
  bpf: {
    ecVmStack: 0,
    ecVmStackSize: 8,
    ecCfp: 16,
    cfpSize: 64, // pc, sp, iseq, self, ep, block_code, __bp__, jit_return
    cfpPc: 0,
    cfpIseq: 16,
    cfpEp: 32,
  },
  iseqBody: 16,
  body: {
    iseqSize: 4,
    iseqEncoded: 8,
    pathobj: 64,
    label: 80,
    firstLineno: 88,
    insnsInfoBody: 120,
    insnsInfoPositions: 128,
    insnsInfoSize: 136,
    succIndexTable: 144,
    readSize: 152,
  },
  insnInfoEntrySize: 12, // line_no, node_id, events
};

/**
 * The layout of a CRuby 3.x minor version.
 *
 * @param major Major version.
 * @param minor Minor version.
 * @returns The layout, or undefined when not supported.
 */
export function rubyLayout(major: number, minor: number): RubyLayout | undefined {
  return major === 3 && minor === 1 ? RUBY_31 : undefined;
}
