// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

//! Crate tests: hand-assembled CFI and ELF files (no external tools), corrupt inputs, the
//! ABI, and smoke tests on the system's libc when it is present.
#![allow(
    unsafe_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::integer_arithmetic,
    clippy::panic
)]

use crate::rule::{CfaKind, RbpKind, Rule, UnsupportedReason, PLT1_EXPRESSION, PLT2_EXPRESSION};
use crate::table::{
    build_from_input, build_from_input_with, build_with_go_bytes, CfiInput, Limits,
};
use crate::{build_unwind_table, elf_facts, Error, Limit};

// ---------------------------------------------------------------------------------------------
// CFI assembler

const EH_FRAME_ADDR: u64 = 0x2000;

fn uleb(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn sleb(mut v: i64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0) {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Call frame instructions.
mod cfa {
    use super::{sleb, uleb};
    pub fn advance(delta: u8) -> Vec<u8> {
        assert!(delta < 64);
        vec![0x40 | delta]
    }
    pub fn def_cfa(reg: u64, off: u64) -> Vec<u8> {
        let mut v = vec![0x0c];
        uleb(reg, &mut v);
        uleb(off, &mut v);
        v
    }
    pub fn def_cfa_offset(off: u64) -> Vec<u8> {
        let mut v = vec![0x0e];
        uleb(off, &mut v);
        v
    }
    pub fn def_cfa_register(reg: u64) -> Vec<u8> {
        let mut v = vec![0x0d];
        uleb(reg, &mut v);
        v
    }
    /// DW_CFA_offset: reg saved at CFA + factored * data_align(-8).
    pub fn offset(reg: u8, factored: u64) -> Vec<u8> {
        assert!(reg < 64);
        let mut v = vec![0x80 | reg];
        uleb(factored, &mut v);
        v
    }
    pub fn restore(reg: u8) -> Vec<u8> {
        vec![0xc0 | reg]
    }
    pub fn undefined(reg: u64) -> Vec<u8> {
        let mut v = vec![0x07];
        uleb(reg, &mut v);
        v
    }
    pub fn same_value(reg: u64) -> Vec<u8> {
        let mut v = vec![0x08];
        uleb(reg, &mut v);
        v
    }
    pub fn register(reg: u64, src: u64) -> Vec<u8> {
        let mut v = vec![0x09];
        uleb(reg, &mut v);
        uleb(src, &mut v);
        v
    }
    pub fn remember() -> Vec<u8> {
        vec![0x0a]
    }
    pub fn restore_state() -> Vec<u8> {
        vec![0x0b]
    }
    pub fn def_cfa_expression(expr: &[u8]) -> Vec<u8> {
        let mut v = vec![0x0f];
        uleb(expr.len() as u64, &mut v);
        v.extend_from_slice(expr);
        v
    }
    pub fn expression(reg: u64, expr: &[u8]) -> Vec<u8> {
        let mut v = vec![0x10];
        uleb(reg, &mut v);
        uleb(expr.len() as u64, &mut v);
        v.extend_from_slice(expr);
        v
    }
    /// DW_OP_breg7 off (optionally followed by DW_OP_deref).
    pub fn breg7(off: i64, deref: bool) -> Vec<u8> {
        let mut v = vec![0x77];
        sleb(off, &mut v);
        if deref {
            v.push(0x06);
        }
        v
    }
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// Builds `.eh_frame` contents: CIEs with augmentation "zR" (pcrel|sdata4 pointers) or
/// "zRS", FDEs referring to them, and the zero terminator.
struct EhFrame {
    bytes: Vec<u8>,
}

impl EhFrame {
    fn new() -> Self {
        EhFrame { bytes: Vec::new() }
    }

    fn pad_entry(&mut self, start: usize) {
        while (self.bytes.len() - start) % 8 != 0 {
            self.bytes.push(0); // DW_CFA_nop
        }
        let len = (self.bytes.len() - start - 4) as u32;
        self.bytes[start..start + 4].copy_from_slice(&len.to_le_bytes());
    }

    /// Returns the CIE's offset.
    fn cie(&mut self, signal: bool, initial: &[u8]) -> usize {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&[0; 4]);
        self.bytes.extend_from_slice(&0u32.to_le_bytes()); // CIE id
        self.bytes.push(1); // version
        self.bytes.extend_from_slice(if signal { b"zRS\0" } else { b"zR\0" });
        uleb(1, &mut self.bytes); // code alignment
        sleb(-8, &mut self.bytes); // data alignment
        self.bytes.push(16); // return address column
        uleb(1, &mut self.bytes); // augmentation data length
        self.bytes.push(0x1b); // DW_EH_PE_pcrel | DW_EH_PE_sdata4
        self.bytes.extend_from_slice(initial);
        self.pad_entry(start);
        start
    }

    fn fde(&mut self, cie: usize, pc: u64, len: u64, instructions: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&[0; 4]);
        let pointer_at = self.bytes.len();
        self.bytes.extend_from_slice(&((pointer_at - cie) as u32).to_le_bytes());
        let field = EH_FRAME_ADDR + self.bytes.len() as u64;
        self.bytes.extend_from_slice(&(pc.wrapping_sub(field) as u32).to_le_bytes());
        self.bytes.extend_from_slice(&(len as u32).to_le_bytes());
        uleb(0, &mut self.bytes); // augmentation data length
        self.bytes.extend_from_slice(instructions);
        self.pad_entry(start);
    }

    fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&[0; 4]);
        self.bytes
    }
}

/// The standard x86-64 CIE program: CFA = rsp+8, return address at CFA-8.
fn x86_cie_initial() -> Vec<u8> {
    cat(&[cfa::def_cfa(7, 8), cfa::offset(16, 1)])
}

/// Builds `.debug_frame` contents (version 1 CIE, absolute 8-byte addresses).
fn debug_frame(fdes: &[(u64, u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let cie_start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&0xffff_ffffu32.to_le_bytes());
    out.push(1);
    out.push(0); // empty augmentation
    uleb(1, &mut out);
    sleb(-8, &mut out);
    out.push(16);
    out.extend_from_slice(&x86_cie_initial());
    while (out.len() - cie_start) % 8 != 0 {
        out.push(0);
    }
    let len = (out.len() - cie_start - 4) as u32;
    out[cie_start..cie_start + 4].copy_from_slice(&len.to_le_bytes());
    for (pc, size, instructions) in fdes {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(cie_start as u32).to_le_bytes());
        out.extend_from_slice(&pc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(instructions);
        while (out.len() - start) % 8 != 0 {
            out.push(0);
        }
        let len = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    }
    out
}

fn input<'a>(eh_frame: &'a [u8], debug_frame: &'a [u8]) -> CfiInput<'a> {
    CfiInput {
        eh_frame,
        eh_frame_addr: EH_FRAME_ADDR,
        debug_frame,
        code_ranges: vec![(0x1000, 0x2000)],
        ..CfiInput::default()
    }
}

fn rsp(off: i32, rbp: Option<i32>) -> Rule {
    Rule {
        cfa_kind: CfaKind::RspOffset,
        rbp_kind: if rbp.is_some() { RbpKind::CfaOffset } else { RbpKind::Unchanged },
        ra_offset: -8,
        cfa_offset: off,
        rbp_offset: rbp.unwrap_or(0),
    }
}

fn rows(table: &crate::UnwindTable) -> Vec<(u64, Rule)> {
    table
        .pcs
        .iter()
        .zip(&table.rule_indices)
        .map(|(&pc, &i)| (pc, table.rules[i as usize]))
        .collect()
}

/// The sample CFI used by several tests: five FDEs covering every rule kind.
fn sample_eh_frame() -> Vec<u8> {
    let mut eh = EhFrame::new();
    let cie = eh.cie(false, &x86_cie_initial());
    // A: push rbp; mov rbp, rsp; ...; leave; ret
    eh.fde(
        cie,
        0x1000,
        0x10,
        &cat(&[
            cfa::advance(1),
            cfa::def_cfa_offset(16),
            cfa::offset(6, 2),
            cfa::advance(3),
            cfa::def_cfa_register(6),
            cfa::advance(8),
            cfa::def_cfa(7, 8),
        ]),
    );
    // B: a PLT: CFA expressions (adjacent to A: no end marker between them).
    eh.fde(
        cie,
        0x1010,
        0x10,
        &cat(&[
            cfa::def_cfa_offset(16),
            cfa::advance(6),
            cfa::def_cfa_offset(24),
            cfa::advance(4),
            cfa::def_cfa_expression(&PLT1_EXPRESSION),
        ]),
    );
    // C: the signal trampoline, after a gap (0x1020..0x1030 not covered).
    let sig = eh.cie(true, &[]);
    eh.fde(
        sig,
        0x1030,
        0x10,
        &cat(&[
            cfa::def_cfa_expression(&cfa::breg7(160, true)),
            cfa::expression(6, &cfa::breg7(120, false)),
            cfa::expression(7, &cfa::breg7(160, false)),
            cfa::expression(16, &cfa::breg7(168, false)),
        ]),
    );
    // D: _start: return address undefined.
    eh.fde(
        cie,
        0x1040,
        0x10,
        &cat(&[cfa::undefined(16), cfa::advance(4), cfa::def_cfa_offset(16)]),
    );
    // E: unsupported forms, one per row.
    eh.fde(
        cie,
        0x1050,
        0x10,
        &cat(&[
            cfa::def_cfa(12, 8), // CFA = r12 + 8
            cfa::advance(2),
            cfa::def_cfa_expression(&PLT2_EXPRESSION),
            cfa::advance(2),
            cfa::def_cfa_expression(&[0x77, 0x08, 0x06]), // rsp+8 deref
            cfa::advance(2),
            cfa::def_cfa(7, 8),
            cfa::register(6, 3), // rbp in rbx
            cfa::advance(2),
            cfa::same_value(6),
            cfa::offset(16, 2), // return address at CFA-16
            cfa::advance(2),
            cfa::offset(16, 1),
            cfa::def_cfa(7, 0x1_0000_0000), // offset beyond i32
        ]),
    );
    eh.finish()
}

#[test]
fn sample_rows_cover_every_rule_kind_with_gaps_and_dedup() {
    let eh = sample_eh_frame();
    let table = build_from_input(&input(&eh, &[])).unwrap();
    let signal = Rule {
        cfa_kind: CfaKind::SignalFrame,
        rbp_kind: RbpKind::RspOffset,
        ra_offset: 168,
        cfa_offset: 160,
        rbp_offset: 120,
    };
    let rbp16 = Rule { cfa_kind: CfaKind::RbpOffset, ..rsp(16, Some(-16)) };
    let plt = |kind| Rule { cfa_kind: kind, cfa_offset: 8, ..rsp(0, None) };
    let expected = vec![
        (0x1000, rsp(8, None)),
        (0x1001, rsp(16, Some(-16))),
        (0x1004, rbp16),
        (0x100c, rsp(8, Some(-16))),
        (0x1010, rsp(16, None)),
        (0x1016, rsp(24, None)),
        (0x101a, plt(CfaKind::Plt1)),
        (0x1020, Rule::END_OF_FUNCTION),
        (0x1030, signal),
        (0x1040, Rule::RA_UNDEFINED),
        (0x1050, Rule::unsupported(UnsupportedReason::CfaRegister)),
        (0x1052, plt(CfaKind::Plt2)),
        (0x1054, Rule::unsupported(UnsupportedReason::CfaExpression)),
        (0x1056, Rule { rbp_kind: RbpKind::Unsupported, ..rsp(8, None) }),
        (0x1058, Rule::unsupported(UnsupportedReason::ReturnAddress)),
        (0x105a, Rule::unsupported(UnsupportedReason::OffsetRange)),
        (0x1060, Rule::END_OF_FUNCTION),
    ];
    assert_eq!(rows(&table), expected);
    assert_eq!(table.rules[0], Rule::END_OF_FUNCTION);
    assert_eq!(table.stats.eh_frame_fdes, 5);
    assert_eq!(table.stats.fdes_used, 5);
    assert_eq!(table.stats.fdes_skipped, 0);
    // Lookups between rows.
    assert_eq!(table.lookup(0x1003), Some(&rsp(16, Some(-16))));
    assert_eq!(table.lookup(0x1025), Some(&Rule::END_OF_FUNCTION));
    assert_eq!(table.lookup(0xfff), None);
    assert_eq!(table.lookup(0x1_0000), Some(&Rule::END_OF_FUNCTION));
}

#[test]
fn rules_are_distinct_and_rows_merge_across_fdes_and_untracked_registers() {
    let mut eh = EhFrame::new();
    let cie = eh.cie(false, &x86_cie_initial());
    // Only rbx (reg 3) changes: the tracked rule stays rsp+8, so one row.
    eh.fde(cie, 0x1000, 0x10, &cat(&[cfa::advance(2), cfa::offset(3, 2)]));
    // Adjacent FDE starting with the same rule: merged into the previous row.
    eh.fde(cie, 0x1010, 0x10, &cat(&[cfa::advance(1), cfa::def_cfa_offset(16)]));
    // remember/restore state returns to an equal rule: rows 0x1021 and 0x1023 stay distinct
    // rows (different from their predecessors) but share one rule.
    eh.fde(
        cie,
        0x1020,
        0x10,
        &cat(&[
            cfa::advance(1),
            cfa::def_cfa_offset(16),
            cfa::remember(),
            cfa::advance(1),
            cfa::def_cfa_offset(8),
            cfa::advance(1),
            cfa::restore_state(),
            cfa::advance(1),
            cfa::restore(16),
        ]),
    );
    let eh = eh.finish();
    let table = build_from_input(&input(&eh, &[])).unwrap();
    assert_eq!(
        rows(&table),
        vec![
            (0x1000, rsp(8, None)),
            (0x1011, rsp(16, None)),
            (0x1020, rsp(8, None)),
            (0x1021, rsp(16, None)),
            (0x1022, rsp(8, None)),
            (0x1023, rsp(16, None)),
            (0x1030, Rule::END_OF_FUNCTION),
        ]
    );
    assert_eq!(table.rules.len(), 3); // END, rsp+8, rsp+16
}

#[test]
fn debug_frame_adds_only_fdes_eh_frame_lacks() {
    let mut eh = EhFrame::new();
    let cie = eh.cie(false, &x86_cie_initial());
    eh.fde(cie, 0x1000, 0x10, &cat(&[cfa::advance(1), cfa::def_cfa_offset(16)]));
    let eh = eh.finish();
    let df = debug_frame(&[
        (0x1008, 0x10, cat(&[cfa::def_cfa_offset(99)])), // overlaps .eh_frame: dropped
        (0x1000, 0x10, cat(&[cfa::def_cfa_offset(99)])), // duplicate: dropped
        (0x1020, 0x08, cat(&[cfa::advance(2), cfa::def_cfa_offset(32)])), // added
        (0x0, 0x10, cat(&[cfa::def_cfa_offset(99)])),    // garbage-collected: outside code
        (0x1028, 0x0, cat(&[])),                         // empty
    ]);
    let table = build_from_input(&input(&eh, &df)).unwrap();
    assert_eq!(
        rows(&table),
        vec![
            (0x1000, rsp(8, None)),
            (0x1001, rsp(16, None)),
            (0x1010, Rule::END_OF_FUNCTION),
            (0x1020, rsp(8, None)),
            (0x1022, rsp(32, None)),
            (0x1028, Rule::END_OF_FUNCTION),
        ]
    );
    let stats = table.stats;
    assert_eq!(stats.eh_frame_fdes, 1);
    assert_eq!(stats.debug_frame_fdes, 5);
    assert_eq!(stats.debug_frame_fdes_added, 1);
    assert_eq!(stats.fdes_outside_code, 1);
    assert_eq!(stats.fdes_empty, 1);
    assert_eq!(stats.fdes_used, 2);

    // .debug_frame alone.
    let table = build_from_input(&input(&[], &df)).unwrap();
    assert_eq!(table.stats.debug_frame_fdes_added, 3);
    assert_eq!(table.lookup(0x1009), Some(&rsp(99, None)));
}

/// `DW_CFA_advance_loc4`.
fn advance4(delta: u32) -> Vec<u8> {
    let mut v = vec![0x04];
    v.extend_from_slice(&delta.to_le_bytes());
    v
}

/// An FDE spanning more than 4 GiB: rows 4 GiB or more past its start (beyond the row store's
/// u32 offsets, and exactly at its escape value) keep their full PCs, then a normal FDE.
#[test]
fn rows_4_gib_past_the_fde_start_keep_their_pcs() {
    let start = 0x1000u64;
    let df = debug_frame(&[
        (
            start,
            0x3_0000_0000,
            cat(&[
                cfa::advance(1),
                cfa::def_cfa_offset(16),
                advance4(0xffff_fffe), // start + 0xffff_ffff: the escape value
                cfa::def_cfa_offset(24),
                cfa::advance(1), // start + 4 GiB
                cfa::def_cfa_offset(32),
                advance4(0x8000_0000),
                cfa::def_cfa_offset(40),
            ]),
        ),
        (0x3_0000_2000, 0x10, cat(&[cfa::advance(2), cfa::def_cfa_offset(48)])),
    ]);
    let mut cfi = input(&[], &df);
    cfi.code_ranges = vec![(0x1000, 0x4_0000_0000)];
    let table = build_from_input(&cfi).unwrap();
    assert_eq!(
        rows(&table),
        vec![
            (start, rsp(8, None)),
            (start + 1, rsp(16, None)),
            (start + 0xffff_ffff, rsp(24, None)),
            (start + 0x1_0000_0000, rsp(32, None)),
            (start + 0x1_8000_0000, rsp(40, None)),
            (start + 0x3_0000_0000, Rule::END_OF_FUNCTION),
            (0x3_0000_2000, rsp(8, None)),
            (0x3_0000_2002, rsp(48, None)),
            (0x3_0000_2010, Rule::END_OF_FUNCTION),
        ]
    );
    assert_eq!(
        table.to_bytes().unwrap(),
        build_with_go_bytes(&cfi, None, &Limits::default()).unwrap()
    );
}

#[test]
fn overlapping_fdes_keep_the_first() {
    let mut eh = EhFrame::new();
    let cie = eh.cie(false, &x86_cie_initial());
    eh.fde(cie, 0x1000, 0x20, &cat(&[cfa::advance(1), cfa::def_cfa_offset(16)]));
    eh.fde(cie, 0x1010, 0x20, &cat(&[cfa::def_cfa_offset(48)]));
    eh.fde(cie, 0x1030, 0x10, &cat(&[cfa::def_cfa_offset(24)]));
    let eh = eh.finish();
    let table = build_from_input(&input(&eh, &[])).unwrap();
    assert_eq!(table.stats.fdes_overlapping, 1);
    assert_eq!(
        rows(&table),
        vec![
            (0x1000, rsp(8, None)),
            (0x1001, rsp(16, None)),
            (0x1020, Rule::END_OF_FUNCTION),
            (0x1030, rsp(24, None)),
            (0x1040, Rule::END_OF_FUNCTION),
        ]
    );
}

#[test]
fn corrupt_fde_programs_are_skipped_not_fatal() {
    let mut eh = EhFrame::new();
    let cie = eh.cie(false, &x86_cie_initial());
    // 1000 nested remember_state: gimli's heap storage would grow without bound; ours stops
    // at 16 and the FDE is skipped.
    eh.fde(cie, 0x1000, 0x10, &vec![0x0a; 1000]);
    // restore_state with nothing remembered.
    eh.fde(cie, 0x1010, 0x10, &cfa::restore_state());
    // An unknown opcode.
    eh.fde(cie, 0x1020, 0x10, &[0x3f]);
    eh.fde(cie, 0x1030, 0x10, &cfa::def_cfa_offset(16));
    let eh = eh.finish();
    let table = build_from_input(&input(&eh, &[])).unwrap();
    assert_eq!(table.stats.fdes_skipped, 3);
    assert_eq!(rows(&table), vec![(0x1030, rsp(16, None)), (0x1040, Rule::END_OF_FUNCTION)]);
}

#[test]
fn limits_are_enforced() {
    let eh = sample_eh_frame();
    let limits = |rows, instruction_bytes, fdes| Limits { rows, instruction_bytes, fdes };
    assert_eq!(
        build_from_input_with(&input(&eh, &[]), &limits(4, u64::MAX, 100)),
        Err(Error::LimitExceeded(Limit::Rows))
    );
    assert_eq!(
        build_from_input_with(&input(&eh, &[]), &limits(100, 100, 100)),
        Err(Error::LimitExceeded(Limit::InstructionBytes))
    );
    assert_eq!(
        build_from_input_with(&input(&eh, &[]), &limits(100, u64::MAX, 2)),
        Err(Error::LimitExceeded(Limit::Fdes))
    );
    assert!(build_from_input_with(&input(&eh, &[]), &limits(100, 10_000, 5)).is_ok());
}

#[test]
fn no_fde_is_an_error() {
    assert_eq!(build_from_input(&input(&[], &[])), Err(Error::NoUnwindInfo));
    assert_eq!(build_from_input(&input(&[0, 0, 0, 0], &[])), Err(Error::NoUnwindInfo));
}

// ---------------------------------------------------------------------------------------------
// ELF assembler

struct ElfSection {
    name: &'static str,
    sh_type: u32,
    flags: u64,
    addr: u64,
    data: Vec<u8>,
}

fn note(name: &[u8], n_type: u32, desc: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
    v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    v.extend_from_slice(&n_type.to_le_bytes());
    v.extend_from_slice(name);
    v.push(0);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v.extend_from_slice(desc);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

/// A small x86-64 ET_DYN file: each section's file offset equals its address (the layout of
/// the first segments of a real shared library), one R+X PT_LOAD over .text and .eh_frame,
/// a PT_NOTE over the build-ID note.
fn build_elf(sections: &[ElfSection], with_interp: bool) -> Vec<u8> {
    let mut out = vec![0u8; 0x1000];
    let mut shstrtab = vec![0u8];
    let mut headers = Vec::new();
    for s in sections {
        let name_off = shstrtab.len() as u32;
        shstrtab.extend_from_slice(s.name.as_bytes());
        shstrtab.push(0);
        let offset = if s.addr != 0 { s.addr as usize } else { out.len() };
        assert!(out.len() <= offset, "sections overlap in the test layout");
        out.resize(offset, 0);
        out.extend_from_slice(&s.data);
        headers.push((name_off, s, offset));
    }
    let interp_off = out.len();
    out.extend_from_slice(b"/lib64/ld-linux-x86-64.so.2\0");
    let shstrtab_off = out.len();
    out.extend_from_slice(&shstrtab);
    while out.len() % 8 != 0 {
        out.push(0);
    }
    let shoff = out.len();
    out.extend_from_slice(&[0u8; 64]); // null section
    for (name_off, s, offset) in &headers {
        let mut h = Vec::new();
        h.extend_from_slice(&name_off.to_le_bytes());
        h.extend_from_slice(&s.sh_type.to_le_bytes());
        h.extend_from_slice(&s.flags.to_le_bytes());
        h.extend_from_slice(&s.addr.to_le_bytes());
        h.extend_from_slice(&(*offset as u64).to_le_bytes());
        h.extend_from_slice(&(s.data.len() as u64).to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&(if s.sh_type == 7 { 4u64 } else { 1u64 }).to_le_bytes());
        h.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&h);
    }
    // .shstrtab header
    let mut h = Vec::new();
    h.extend_from_slice(&0u32.to_le_bytes()); // name "" (offset 0 is the leading NUL)
    h.extend_from_slice(&3u32.to_le_bytes());
    h.extend_from_slice(&0u64.to_le_bytes());
    h.extend_from_slice(&0u64.to_le_bytes());
    h.extend_from_slice(&(shstrtab_off as u64).to_le_bytes());
    h.extend_from_slice(&(shstrtab.len() as u64).to_le_bytes());
    h.extend_from_slice(&[0u8; 24]);
    out.extend_from_slice(&h);
    let shnum = headers.len() as u16 + 2;

    // Program headers at 64.
    let mut phdrs = Vec::new();
    let mut ph = |p_type: u32, flags: u32, offset: u64, size: u64, align: u64| {
        let mut p = Vec::new();
        p.extend_from_slice(&p_type.to_le_bytes());
        p.extend_from_slice(&flags.to_le_bytes());
        p.extend_from_slice(&offset.to_le_bytes());
        p.extend_from_slice(&offset.to_le_bytes());
        p.extend_from_slice(&offset.to_le_bytes());
        p.extend_from_slice(&size.to_le_bytes());
        p.extend_from_slice(&size.to_le_bytes());
        p.extend_from_slice(&align.to_le_bytes());
        phdrs.push(p);
    };
    ph(1, 5, 0x1000, 0x2000, 0x1000); // PT_LOAD R+X
    for (_, s, offset) in &headers {
        if s.sh_type == 7 {
            ph(4, 4, *offset as u64, s.data.len() as u64, 4); // PT_NOTE
        }
    }
    if with_interp {
        ph(3, 4, interp_off as u64, 28, 1); // PT_INTERP
    }
    let phnum = phdrs.len() as u16;
    let mut pos = 64;
    for p in phdrs {
        out[pos..pos + 56].copy_from_slice(&p);
        pos += 56;
    }

    let mut eh = Vec::new();
    eh.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    eh.extend_from_slice(&3u16.to_le_bytes()); // ET_DYN
    eh.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    eh.extend_from_slice(&1u32.to_le_bytes());
    eh.extend_from_slice(&0x1000u64.to_le_bytes()); // entry
    eh.extend_from_slice(&64u64.to_le_bytes()); // phoff
    eh.extend_from_slice(&(shoff as u64).to_le_bytes());
    eh.extend_from_slice(&0u32.to_le_bytes());
    eh.extend_from_slice(&64u16.to_le_bytes());
    eh.extend_from_slice(&56u16.to_le_bytes());
    eh.extend_from_slice(&phnum.to_le_bytes());
    eh.extend_from_slice(&64u16.to_le_bytes());
    eh.extend_from_slice(&shnum.to_le_bytes());
    eh.extend_from_slice(&(shnum - 1).to_le_bytes());
    out[..64].copy_from_slice(&eh);
    out
}

fn sample_elf() -> Vec<u8> {
    let build_id: Vec<u8> = (0u8..20).collect();
    build_elf(
        &[
            ElfSection {
                name: ".text",
                sh_type: 1,
                flags: 6,
                addr: 0x1000,
                data: vec![0xc3; 0x100],
            },
            ElfSection {
                name: ".eh_frame",
                sh_type: 1,
                flags: 2,
                addr: EH_FRAME_ADDR,
                data: sample_eh_frame(),
            },
            ElfSection {
                name: ".note.gnu.build-id",
                sh_type: 7,
                flags: 2,
                addr: 0x2800,
                data: note(b"GNU", 3, &build_id),
            },
            ElfSection {
                name: ".comment",
                sh_type: 1,
                flags: 0x30,
                addr: 0,
                data: b"GCC: (Test) 1.0\0clang 2\0".to_vec(),
            },
            ElfSection { name: ".symtab", sh_type: 2, flags: 0, addr: 0, data: vec![0; 24] },
        ],
        true,
    )
}

#[test]
fn elf_facts_of_the_sample_file() {
    let elf = sample_elf();
    let facts = elf_facts(&elf).unwrap();
    assert_eq!(
        facts.to_json(),
        concat!(
            r#"{"class":64,"littleEndian":true,"machine":62,"type":"DYN","entry":4096,"#,
            r#""buildId":"000102030405060708090a0b0c0d0e0f10111213","buildIdKind":"gnu","goBuildId":null,"#,
            r#""static":false,"interp":"/lib64/ld-linux-x86-64.so.2","needed":[],"hasDynamic":false,"#,
            r#""stripped":false,"hasSymtab":true,"hasDynsym":false,"hasDebugInfo":false,"#,
            r#""hasEhFrame":true,"hasDebugFrame":false,"compiler":"GCC: (Test) 1.0","debuglink":null,"#,
            r#""text":{"addr":4096,"offset":4096,"size":256},"#,
            r#""execSegments":[{"offset":4096,"vaddr":4096,"filesz":8192,"memsz":8192,"flags":5}],"#,
            r#""warnings":[]}"#
        )
    );
}

#[test]
fn go_build_id_is_used_when_there_is_no_gnu_one() {
    let elf = build_elf(
        &[
            ElfSection {
                name: ".text",
                sh_type: 1,
                flags: 6,
                addr: 0x1000,
                data: vec![0xc3; 0x10],
            },
            ElfSection {
                name: ".note.go.buildid",
                sh_type: 7,
                flags: 2,
                addr: 0x2800,
                data: note(b"Go", 4, b"abc/def"),
            },
        ],
        false,
    );
    let facts = elf_facts(&elf).unwrap();
    let json = facts.to_json();
    assert!(
        json.contains(r#""buildId":"6162632f646566","buildIdKind":"go","goBuildId":"abc/def""#),
        "{}",
        json
    );
    assert!(facts.is_static());
    assert!(facts.is_stripped());
    assert_eq!(build_unwind_table(&elf), Err(Error::NoUnwindInfo));
}

#[test]
fn table_of_the_sample_file_matches_the_cfi_test() {
    let table = build_unwind_table(&sample_elf()).unwrap();
    let direct = build_from_input(&input(&sample_eh_frame(), &[])).unwrap();
    assert_eq!(rows(&table), rows(&direct));
    let bytes = table.to_bytes().unwrap();
    assert_eq!(&bytes[..4], b"UWT1");
    let rule_count = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let row_count = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let pcs_off = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
    let idx_off = u32::from_le_bytes(bytes[24..28].try_into().unwrap()) as usize;
    assert_eq!(rule_count, table.rules.len());
    assert_eq!(row_count, table.pcs.len());
    assert_eq!(pcs_off % 8, 0);
    assert_eq!(bytes.len(), idx_off + 2 * row_count);
    assert_eq!(u64::from_le_bytes(bytes[pcs_off..pcs_off + 8].try_into().unwrap()), 0x1000);
}

#[test]
fn other_architectures_and_garbage_are_errors() {
    let mut elf = sample_elf();
    elf[18] = 183; // EM_AARCH64
    assert_eq!(build_unwind_table(&elf), Err(Error::UnsupportedArchitecture(183)));
    assert!(elf_facts(&elf).is_ok());
    assert!(matches!(build_unwind_table(b"not an elf"), Err(Error::InvalidElf(_))));
    assert!(matches!(elf_facts(&[]), Err(Error::InvalidElf(_))));
    assert_eq!(Error::InvalidElf("x").code(), 2);
}

/// Deterministic xorshift generator for mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn check_no_panic(data: &[u8]) {
    let table = build_unwind_table(data);
    if let Ok(table) = &table {
        assert!(table.pcs.windows(2).all(|w| w[0] < w[1]), "rows not strictly increasing");
        assert!(table.rule_indices.iter().all(|&i| (i as usize) < table.rules.len()));
        assert_eq!(
            table.to_bytes().unwrap(),
            crate::table::build_unwind_table_bytes(data).unwrap()
        );
    }
    if let Ok(facts) = elf_facts(data) {
        facts.to_json();
    }
}

#[test]
fn truncated_files_never_panic() {
    let elf = sample_elf();
    for len in 0..elf.len() {
        check_no_panic(&elf[..len]);
    }
}

#[test]
fn mutated_files_never_panic() {
    let elf = sample_elf();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Every byte of the headers and of .eh_frame flipped, then random multi-byte mutations.
    let eh_start = EH_FRAME_ADDR as usize;
    let eh_end = eh_start + sample_eh_frame().len();
    for pos in (0..0x200).chain(eh_start..eh_end) {
        for pattern in [0xff, 0x80, 0x01] {
            let mut m = elf.clone();
            m[pos] ^= pattern;
            check_no_panic(&m);
        }
    }
    for _ in 0..20_000 {
        let mut m = elf.clone();
        for _ in 0..1 + rng.below(8) {
            let pos = if rng.below(2) == 0 {
                rng.below(0x200)
            } else {
                eh_start + rng.below(eh_end - eh_start)
            };
            m[pos] = match rng.below(4) {
                0 => rng.next() as u8,
                1 => 0,
                2 => 0xff,
                _ => m[pos].wrapping_add(1),
            };
        }
        check_no_panic(&m);
    }
}

#[test]
fn the_abi_reports_results_and_errors() {
    use crate::binding::*;
    let elf = sample_elf();
    let ptr = alloc(elf.len());
    assert!(!ptr.is_null());
    unsafe {
        core::ptr::copy_nonoverlapping(elf.as_ptr(), ptr, elf.len());
        let result = unwind_table(ptr, elf.len());
        assert!(!result.is_null());
        assert_eq!(last_error_code(), 0);
        assert_eq!(error_message_len(), 0);
        let bytes = core::slice::from_raw_parts(result, result_len());
        assert_eq!(&bytes[..4], b"UWT1");
        let result = elf_facts(ptr, elf.len());
        let json = core::str::from_utf8(core::slice::from_raw_parts(result, result_len())).unwrap();
        assert!(json.starts_with("{\"class\":64"));
        result_free();
        assert_eq!(result_len(), 0);
        // Errors.
        assert!(unwind_table(ptr, 10).is_null());
        assert_eq!(last_error_code(), 2);
        let message = core::slice::from_raw_parts(error_message(), error_message_len());
        assert_eq!(
            core::str::from_utf8(message).unwrap(),
            "invalid ELF file: cannot read ELF header"
        );
        assert_eq!(result_len(), 0);
        assert!(unwind_table(core::ptr::null(), 10).is_null());
        assert_eq!(last_error_code(), 1);
        dealloc(ptr, elf.len());
    }
    assert!(alloc(0).is_null());
    assert_eq!(abi_version(), 1);
}

// ---------------------------------------------------------------------------------------------
// The system's libc, when present.

const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";

#[test]
fn libc_table_has_signal_and_plt_rules() {
    let data = match std::fs::read(LIBC) {
        Ok(data) => data,
        Err(_) => {
            eprintln!("skipped: {} is not readable", LIBC);
            return;
        }
    };
    let table = build_unwind_table(&data).unwrap();
    assert!(table.pcs.len() > 1000);
    assert!(table.pcs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(table.stats.fdes_skipped, 0);
    assert_eq!(table.stats.fdes_overlapping, 0);
    assert_eq!(table.stats.fdes_used, table.stats.eh_frame_fdes - table.stats.fdes_empty);
    let signal =
        table.rules.iter().find(|r| r.cfa_kind == CfaKind::SignalFrame).expect("__restore_rt");
    // glibc's __restore_rt CFI: CFA = *(rsp+160), rbp at rsp+120, rip at rsp+168.
    assert_eq!(
        (signal.cfa_offset, signal.rbp_kind, signal.rbp_offset, signal.ra_offset),
        (160, RbpKind::RspOffset, 120, 168)
    );
    assert!(table.rules.iter().any(|r| r.cfa_kind == CfaKind::Plt1));
}

#[test]
fn mutated_libc_never_panics() {
    let data = match std::fs::read(LIBC) {
        Ok(data) => data,
        Err(_) => {
            eprintln!("skipped: {} is not readable", LIBC);
            return;
        }
    };
    let view = crate::elf::ElfView::parse(&data).unwrap();
    let eh = view.section(b".eh_frame").unwrap();
    let (start, len) = (eh.offset as usize, eh.data.len());
    let mut rng = Rng(42);
    let rounds = if cfg!(debug_assertions) { 20 } else { 200 };
    for _ in 0..rounds {
        let mut m = data.clone();
        for _ in 0..1 + rng.below(16) {
            let pos = start + rng.below(len);
            m[pos] = rng.next() as u8;
        }
        check_no_panic(&m);
    }
    for cut in [100, 1000, 64 + 56 * 3, start + len / 2, data.len() - 1] {
        check_no_panic(&data[..cut]);
    }
}
