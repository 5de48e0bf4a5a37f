// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

//! Unwind rows of Go functions from `.gopclntab`, in the rule format of the `.eh_frame` rows.
//!
//! The `pcsp` table gives the bytes a function has pushed at every PC, so the CFA is exact
//! everywhere, frameless leaves and prologues included: CFA = rsp + pcsp + 8, the return
//! address at CFA - 8. Go saves the caller's rbp at CFA - 16 in the prologue of every function
//! with a frame, either `PUSHQ BP` (Go 1.21+) or `SUBQ $n, SP; MOVQ BP, n-8(SP)` (before);
//! the prologue's bytes say which, and from which PC on the slot holds it.
//!
//! Runtime functions that switch stacks get their own rules ([`Special`]):
//! - `goexit`, `mstart`, `rt0_go` (and any `TOPFRAME` function): the stack ends here;
//! - `systemstack`, at its call of the target function on g0: back to the goroutine's stack
//!   through `g.m.curg.sched.sp`, as Go's own traceback does (the offsets of that path are read
//!   from `systemstack`'s own instructions); when they cannot be read, a frame-pointer step
//!   (which, before Go 1.21, skips `systemstack`'s caller: only `g.sched` holds its return
//!   address);
//! - `asmcgocall`, at its calls of C on g0: back to the goroutine's SP saved on the g0 stack;
//! - `mcall` after its switch (rbp cleared, the goroutine parked) and `morestack`: the g0
//!   stack ends here, as in Go's own tracebacks;
//! - other functions that write SP (`SPWRITE`): `pcsp` until the first push, then frame
//!   pointers if they saved rbp, else the end of the stack.

#[cfg(test)]
use crate::gopclntab::READ_WINDOW;
use crate::gopclntab::{Func, Pclntab, Special, FLAG_SP_WRITE, FLAG_TOP_FRAME};
use crate::rule::{RbpKind, Rule, UnsupportedReason};

/// The largest SP delta taken as real (Go frames are far smaller; goroutine stacks start at
/// 8 KiB and grow to 1 GiB at most).
const MAX_SP_DELTA: i32 = 1 << 30;

/// Offsets (from the entry) and lengths of the direct calls (`e8 rel32`) in `code` whose
/// target is the function named `target`.
fn direct_calls_to(
    table: &Pclntab<'_>,
    entry: u64,
    code: &[u8],
    target: &[u8],
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (i, w) in code.windows(5).enumerate() {
        let rel = match w {
            [0xe8, a, b, c, d] => i64::from(i32::from_le_bytes([*a, *b, *c, *d])),
            _ => continue,
        };
        let next = entry.wrapping_add(i as u64).wrapping_add(5);
        let dest = next.wrapping_add(rel as u64);
        if let Ok(Some(f)) = table.find_func(dest) {
            if f.entry == dest && f.name.strip_suffix(b".abi0").unwrap_or(f.name) == target {
                out.push((i, 5));
            }
        }
    }
    out
}

/// Offsets (from the entry) and lengths of the register-indirect calls in `code`
/// (`ff d0+r`, `41 ff d0+r`): how the runtime's assembly calls the function it switched
/// stacks for.
fn indirect_calls(code: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0usize;
    while let Some(&b) = code.get(i) {
        let next = code.get(i.wrapping_add(1)).copied();
        let after = code.get(i.wrapping_add(2)).copied();
        if b == 0xff && next.map_or(false, |n| (0xd0..=0xd7).contains(&n)) {
            out.push((i, 2));
        } else if b == 0x41
            && next == Some(0xff)
            && after.map_or(false, |n| (0xd0..=0xd7).contains(&n))
        {
            out.push((i, 3));
        }
        i = i.wrapping_add(1);
    }
    out
}

/// Reads a little-endian i32 at `at` in `code`.
fn le_i32(code: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_le_bytes(code.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// Matches `mov disp(%base),%dst` (REX.W 8b, modrm mod 01/10) at `at`: `modrm_low` is the
/// modrm byte with mod 00 (reg = dst, rm = base). Returns (displacement, instruction length).
fn mov_load(code: &[u8], at: usize, modrm_low: u8) -> Option<(i32, usize)> {
    if code.get(at..at.checked_add(2)?)? != [0x48, 0x8b] {
        return None;
    }
    let modrm = *code.get(at.checked_add(2)?)?;
    if modrm == modrm_low | 0x40 {
        Some((i32::from(*code.get(at.checked_add(3)?)? as i8), 4))
    } else if modrm == modrm_low | 0x80 {
        Some((le_i32(code, at.checked_add(3)?)?, 7))
    } else {
        None
    }
}

/// The offsets `systemstack` uses to switch back to the goroutine, read from the instructions
/// after its call of the target function (`code[at..]`), which every Go version since 1.16
/// assembles as:
///
/// ```text
/// mov %fs:TLS,%rax | mov $TLS,%rcx; mov %fs:(%rcx),%rax   get_tls; MOVQ g(CX), AX
/// mov G_M(%rax),%rbx                                      MOVQ g_m(AX), BX
/// mov M_CURG(%rbx),%rax                                   MOVQ m_curg(BX), AX
/// mov %rax,%fs:TLS | mov %rax,%fs:(%rcx)                  MOVQ AX, g(CX)
/// mov SCHED_SP(%rax),%rsp                                 MOVQ (g_sched+gobuf_sp)(AX), SP
/// ```
///
/// Returns (TLS, G_M, M_CURG, SCHED_SP), or None for any other code (a layout this reader does
/// not know, or TLS reached through the GOT in a shared library).
pub fn systemstack_offsets(code: &[u8], at: usize) -> Option<(i32, i32, i32, i32)> {
    let mut i = at;
    let tls = if code.get(i..i.checked_add(5)?)? == [0x64, 0x48, 0x8b, 0x04, 0x25] {
        let v = le_i32(code, i.checked_add(5)?)?;
        i = i.checked_add(9)?;
        v
    } else if code.get(i..i.checked_add(3)?)? == [0x48, 0xc7, 0xc1]
        && code.get(i.checked_add(7)?..i.checked_add(11)?)? == [0x64, 0x48, 0x8b, 0x01]
    {
        let v = le_i32(code, i.checked_add(3)?)?;
        i = i.checked_add(11)?;
        v
    } else {
        return None;
    };
    // rbx <- [rax + G_M]: modrm reg rbx (3), rm rax (0).
    let (g_m, n) = mov_load(code, i, 0x18)?;
    i = i.checked_add(n)?;
    // rax <- [rbx + M_CURG]: reg rax (0), rm rbx (3).
    let (m_curg, n) = mov_load(code, i, 0x03)?;
    i = i.checked_add(n)?;
    if code.get(i..i.checked_add(5)?)? == [0x64, 0x48, 0x89, 0x04, 0x25] {
        i = i.checked_add(9)?;
    } else if code.get(i..i.checked_add(4)?)? == [0x64, 0x48, 0x89, 0x01] {
        i = i.checked_add(4)?;
    } else {
        return None;
    }
    // rsp <- [rax + SCHED_SP]: reg rsp (4), rm rax (0).
    let (sched_sp, _) = mov_load(code, i, 0x20)?;
    Some((tls, g_m, m_curg, sched_sp))
}

/// The span and rule of `systemstack`'s call of its target among the indirect calls in its
/// code: back to the goroutine through `g.sched` at the call that the switch-back code follows,
/// or else a frame-pointer step at the first indirect call.
fn systemstack_override(
    table: &Pclntab<'_>,
    f: &Func<'_>,
    code: &[u8],
    calls: &[(usize, usize)],
    saved_from: Option<u64>,
) -> Option<(u64, u64, Rule)> {
    let switch = calls.iter().find_map(|&(at, len)| {
        let (tls, g_m, m_curg, sched_sp) = systemstack_offsets(code, at.checked_add(len)?)?;
        let pc = f.entry.checked_add(u64::try_from(at).ok()?)?;
        let pushed = table.sp_delta(f, pc)?;
        let saved = saved_from.map_or(false, |s| pc >= s) && pushed > 0;
        let rule = Rule::go_systemstack(tls, g_m, m_curg, sched_sp, pushed, saved)?;
        span(f.entry, at, len, rule)
    });
    switch.or_else(|| {
        let &(at, len) = calls.first()?;
        span(f.entry, at, len, Rule::FRAME_POINTER)
    })
}

/// Bytes [`rbp_saved_from`] reads from the start of a function's first frame segment (the
/// longest store it matches, `mov %rbp, disp32(%rsp)`).
const PROLOGUE_STORE_LEN: usize = 8;

/// The PC from which the caller's rbp is saved at CFA - 16, judged from the prologue: the
/// first pcsp segment with a frame starts right after `PUSHQ BP` (then the push saved it), or
/// at `MOVQ BP, off(SP)` with `off` = delta - 8 (then the store does, once executed).
fn rbp_saved_from(code: &[u8], entry: u64, start: u64, delta: i32) -> Option<u64> {
    let at = usize::try_from(start.checked_sub(entry)?).ok()?;
    if delta == 8 && at >= 1 && code.get(at.wrapping_sub(1)) == Some(&0x55) {
        return Some(start);
    }
    let slot = delta.checked_sub(8)?;
    let ins = code.get(at..)?;
    // mov [rsp+disp8], rbp
    if ins.get(..4) == Some(&[0x48, 0x89, 0x6c, 0x24][..]) {
        if i32::from(*ins.get(4)? as i8) == slot {
            return start.checked_add(5);
        }
        return None;
    }
    // mov [rsp+disp32], rbp
    if ins.get(..4) == Some(&[0x48, 0x89, 0xac, 0x24][..]) {
        let disp = i32::from_le_bytes(ins.get(4..8)?.try_into().ok()?);
        if disp == slot {
            return start.checked_add(8);
        }
    }
    None
}

/// Appends the rows of one Go function (`(pc, rule)`, PCs strictly increasing inside
/// `[f.entry, f.end)`) to `out`. Returns false, with `out` unchanged, when the function has no
/// usable `pcsp` table (its PCs are then not covered).
pub fn function_rows(table: &Pclntab<'_>, f: &Func<'_>, out: &mut Vec<(u64, Rule)>) -> bool {
    let special = f.special();
    if f.flag & FLAG_TOP_FRAME != 0
        || matches!(special, Some(Special::Goexit | Special::Mstart | Special::Rt0Go))
        || special == Some(Special::Morestack)
    {
        out.push((f.entry, Rule::RA_UNDEFINED));
        return true;
    }
    let size = match f.end.checked_sub(f.entry).and_then(|n| usize::try_from(n).ok()) {
        Some(n) if n > 0 => n,
        _ => return false,
    };
    let mut values = table.pcvalues(f.pcsp, f.entry);
    let mut segments = Vec::new();
    for seg in &mut values {
        if seg.start >= f.end {
            break;
        }
        if seg.end > seg.start {
            segments.push(seg);
        }
    }
    if values.corrupt() || segments.is_empty() {
        return false;
    }

    // The code read: all of it for the stack-switching functions (their calls are searched),
    // else the prologue up to the first frame segment and the store that may follow it.
    let framed = segments.iter().find(|s| s.value > 0);
    let needed = match special {
        Some(Special::Systemstack | Special::Mcall | Special::Asmcgocall) => size,
        _ => framed
            .and_then(|s| s.start.checked_sub(f.entry))
            .and_then(|at| usize::try_from(at).ok())
            .map_or(0, |at| at.saturating_add(PROLOGUE_STORE_LEN).min(size)),
    };
    let code_bytes = if needed > 0 { table.code(f.entry, needed) } else { None };
    let code: &[u8] = code_bytes.as_deref().unwrap_or(&[]);
    let saved_from = framed.and_then(|s| rbp_saved_from(code, f.entry, s.start, s.value));
    let first = out.len();
    let mut push = |pc: u64, rule: Rule| {
        if out.len() > first && out.last().map_or(false, |&(last, _)| last >= pc) {
            // Only the later rule of two at one PC counts.
            out.pop();
        }
        out.push((pc, rule));
    };
    let sp_write = f.flag & FLAG_SP_WRITE != 0
        && !matches!(
            special,
            Some(
                Special::Systemstack | Special::Mcall | Special::Asmcgocall | Special::Cgocallback
            )
        );
    for seg in &segments {
        let v = seg.value;
        if !(0..MAX_SP_DELTA).contains(&v) {
            push(seg.start, Rule::unsupported(UnsupportedReason::OffsetRange));
            continue;
        }
        if sp_write && v > 0 {
            // SP was (or is about to be) written in a way pcsp does not track.
            push(
                seg.start,
                if saved_from.is_some() { Rule::FRAME_POINTER } else { Rule::RA_UNDEFINED },
            );
            continue;
        }
        let cfa = v.wrapping_add(8);
        match saved_from {
            Some(s) if v > 0 && s > seg.start && s < seg.end => {
                push(seg.start, Rule::rsp_offset(cfa, false));
                push(s, Rule::rsp_offset(cfa, true));
            }
            Some(s) if v > 0 && seg.start >= s => push(seg.start, Rule::rsp_offset(cfa, true)),
            _ => push(seg.start, Rule::rsp_offset(cfa, false)),
        }
    }

    // Stack switches: replace the rule on the call instructions (a return address minus one
    // lands on the call's last byte).
    let calls = match special {
        Some(Special::Systemstack | Special::Mcall | Special::Asmcgocall) => indirect_calls(code),
        _ => Vec::new(),
    };
    let overrides: Vec<(u64, u64, Rule)> = match special {
        Some(Special::Systemstack) => {
            systemstack_override(table, f, code, &calls, saved_from).into_iter().collect()
        }
        Some(Special::Asmcgocall) => {
            // C is called directly (before Go 1.21) or through asmcgocall_landingpad, which
            // jumps to it: either way the C function returns to asmcgocall. The goroutine's SP
            // saved on g0 is asmcgocall's SP after its prologue: the CFA is that plus what the
            // prologue pushed (pcsp at the call) plus the return address.
            let mut sites = calls;
            sites.extend(direct_calls_to(table, f.entry, code, b"runtime.asmcgocall_landingpad"));
            sites
                .iter()
                .filter_map(|&(at, len)| {
                    let pc = f.entry.checked_add(u64::try_from(at).ok()?)?;
                    let pushed = table.sp_delta(f, pc)?;
                    let saved = saved_from.map_or(false, |s| pc >= s) && pushed > 0;
                    let rule = Rule {
                        cfa_offset: pushed.checked_add(8)?,
                        rbp_kind: if saved { RbpKind::CfaOffset } else { RbpKind::Unchanged },
                        rbp_offset: if saved { -16 } else { 0 },
                        ..Rule::GO_ASMCGOCALL
                    };
                    span(f.entry, at, len, rule)
                })
                .collect()
        }
        Some(Special::Mcall) => calls
            .first()
            .and_then(|&(at, _)| span(f.entry, at, size.saturating_sub(at), Rule::RA_UNDEFINED))
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    for o in overrides {
        apply_override(out, first, o, f.end);
    }
    true
}

fn span(entry: u64, at: usize, len: usize, rule: Rule) -> Option<(u64, u64, Rule)> {
    let start = entry.checked_add(u64::try_from(at).ok()?)?;
    let end = start.checked_add(u64::try_from(len).ok()?)?;
    Some((start, end, rule))
}

/// Makes `rule` apply on `[start, end)` of the rows in `out[first..]` (a function ending at
/// `limit`), keeping what applied before and after.
fn apply_override(
    out: &mut Vec<(u64, Rule)>,
    first: usize,
    (start, end, rule): (u64, u64, Rule),
    limit: u64,
) {
    let rows = out.split_off(first);
    let after = rows.iter().take_while(|&&(p, _)| p <= end).last().map(|&(_, r)| r);
    out.extend(rows.iter().copied().filter(|&(p, _)| p < start));
    out.push((start, rule));
    if let Some(after) = after {
        if end < limit {
            out.push((end, after));
        }
    }
    out.extend(rows.iter().copied().filter(|&(p, _)| p > end));
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::integer_arithmetic
)]
mod tests {
    use super::*;
    use crate::rule::CfaKind;

    /// `systemstack`'s switch back to the goroutine, as each toolchain assembles it (objdump of
    /// test programs): Go 1.19, Go 1.21, Go 1.26, and Go 1.19 built with `-buildmode=pie`.
    const SWITCH_BACK_119: &[u8] = &[
        0x64, 0x48, 0x8b, 0x04, 0x25, 0xf8, 0xff, 0xff, 0xff, // mov %fs:-8,%rax
        0x48, 0x8b, 0x58, 0x30, // mov 0x30(%rax),%rbx
        0x48, 0x8b, 0x83, 0xc0, 0x00, 0x00, 0x00, // mov 0xc0(%rbx),%rax
        0x64, 0x48, 0x89, 0x04, 0x25, 0xf8, 0xff, 0xff, 0xff, // mov %rax,%fs:-8
        0x48, 0x8b, 0x60, 0x38, // mov 0x38(%rax),%rsp
        0x48, 0xc7, 0x40, 0x38, 0x00, 0x00, 0x00, 0x00, // movq $0,0x38(%rax)
        0xc3,
    ];
    const SWITCH_BACK_126: &[u8] = &[
        0x64, 0x48, 0x8b, 0x04, 0x25, 0xf8, 0xff, 0xff, 0xff, // mov %fs:-8,%rax
        0x48, 0x8b, 0x58, 0x30, // mov 0x30(%rax),%rbx
        0x48, 0x8b, 0x83, 0xb8, 0x00, 0x00, 0x00, // mov 0xb8(%rbx),%rax
        0x64, 0x48, 0x89, 0x04, 0x25, 0xf8, 0xff, 0xff, 0xff, // mov %rax,%fs:-8
        0x48, 0x8b, 0x60, 0x38, // mov 0x38(%rax),%rsp
        0x48, 0x8b, 0x68, 0x60, // mov 0x60(%rax),%rbp
        0x5d, 0xc3,
    ];
    const SWITCH_BACK_PIE: &[u8] = &[
        0x48, 0xc7, 0xc1, 0xf8, 0xff, 0xff, 0xff, // mov $-8,%rcx
        0x64, 0x48, 0x8b, 0x01, // mov %fs:(%rcx),%rax
        0x48, 0x8b, 0x58, 0x30, // mov 0x30(%rax),%rbx
        0x48, 0x8b, 0x83, 0xc0, 0x00, 0x00, 0x00, // mov 0xc0(%rbx),%rax
        0x64, 0x48, 0x89, 0x01, // mov %rax,%fs:(%rcx)
        0x48, 0x8b, 0x60, 0x38, // mov 0x38(%rax),%rsp
        0xc3,
    ];

    #[test]
    fn systemstack_offsets_are_read_from_each_toolchains_code() {
        // Preceded by the call of the target (`call *%rdi`), which the reader starts after.
        let with_call = |tail: &[u8]| [&[0xff, 0xd7][..], tail].concat();
        assert_eq!(systemstack_offsets(&with_call(SWITCH_BACK_119), 2), Some((-8, 48, 192, 56)));
        assert_eq!(systemstack_offsets(&with_call(SWITCH_BACK_126), 2), Some((-8, 48, 184, 56)));
        assert_eq!(systemstack_offsets(&with_call(SWITCH_BACK_PIE), 2), Some((-8, 48, 192, 56)));
        // m.curg as a disp8 (a smaller m) is read too.
        let mut short = SWITCH_BACK_119.to_vec();
        short.splice(13..20, [0x48, 0x8b, 0x43, 0x78]);
        assert_eq!(systemstack_offsets(&short, 0), Some((-8, 48, 120, 56)));
    }

    #[test]
    fn systemstack_offsets_reject_other_code() {
        // TLS through the GOT (a Go shared library): the offset is not in the code.
        let got = [0x48, 0x8b, 0x0d, 0x10, 0x20, 0x30, 0x00, 0x64, 0x48, 0x8b, 0x01];
        assert_eq!(systemstack_offsets(&got, 0), None);
        // Another register, a missing store of g, and every truncation: no offsets, no panic.
        let mut other = SWITCH_BACK_119.to_vec();
        other[11] = 0x48; // mov 0x30(%rax),%rcx
        assert_eq!(systemstack_offsets(&other, 0), None);
        let mut no_store = SWITCH_BACK_119.to_vec();
        no_store.drain(20..29);
        assert_eq!(systemstack_offsets(&no_store, 0), None);
        for cut in 0..SWITCH_BACK_119.len() - 9 {
            assert_eq!(systemstack_offsets(&SWITCH_BACK_119[..cut], 0), None, "cut at {}", cut);
        }
        assert_eq!(systemstack_offsets(SWITCH_BACK_119, SWITCH_BACK_119.len() + 10), None);
    }

    #[test]
    fn systemstack_rule_packs_its_offsets() {
        let r = Rule::go_systemstack(-8, 48, 192, 56, 0, false).unwrap();
        assert_eq!(r.cfa_kind, CfaKind::GoSystemstack);
        assert_eq!(r.rbp_kind, RbpKind::Unchanged);
        assert_eq!((r.ra_offset, r.cfa_offset), (192, 8));
        // Byte 0: the TLS offset as i8; byte 1: g.m / 8; byte 2: sched.sp / 8.
        assert_eq!(r.to_bytes()[8..12], [0xf8, 6, 7, 0]);
        let framed = Rule::go_systemstack(-8, 48, 184, 56, 8, true).unwrap();
        assert_eq!((framed.rbp_kind, framed.cfa_offset), (RbpKind::CfaOffset, 16));
        // What the encoding cannot hold.
        assert_eq!(Rule::go_systemstack(-200, 48, 192, 56, 0, false), None);
        assert_eq!(Rule::go_systemstack(-8, 44, 192, 56, 0, false), None);
        assert_eq!(Rule::go_systemstack(-8, 48, 192, 8 * 256, 0, false), None);
        assert_eq!(Rule::go_systemstack(-8, 48, 40_000, 56, 0, false), None);
    }

    #[test]
    fn prologues_say_where_rbp_is_saved() {
        // Go 1.21+: PUSHQ BP at entry, the first frame segment starts after it.
        let push = [0x55, 0x48, 0x89, 0xe5];
        assert_eq!(rbp_saved_from(&push, 0x1000, 0x1001, 8), Some(0x1001));
        // Before: SUBQ $0x28, SP; MOVQ BP, 0x20(SP): saved once the store ran.
        let store = [0x48, 0x83, 0xec, 0x28, 0x48, 0x89, 0x6c, 0x24, 0x20, 0x48, 0x8d];
        assert_eq!(rbp_saved_from(&store, 0x1000, 0x1004, 0x28), Some(0x1009));
        // A store to another slot is not the frame pointer's.
        assert_eq!(rbp_saved_from(&store, 0x1000, 0x1004, 0x30), None);
        let far = [0x48, 0x89, 0xac, 0x24, 0x08, 0x01, 0x00, 0x00];
        assert_eq!(rbp_saved_from(&far, 0x1000, 0x1000, 0x110), Some(0x1008));
        assert_eq!(rbp_saved_from(&[], 0x1000, 0x1000, 8), None);
    }

    #[test]
    fn indirect_calls_are_found_with_and_without_rex() {
        let code = [0x90, 0xff, 0xd7, 0x90, 0x41, 0xff, 0xd3, 0xff, 0xe0, 0xff];
        assert_eq!(indirect_calls(&code), vec![(1, 2), (4, 3), (5, 2)]);
    }

    #[test]
    fn overrides_keep_the_rules_around_them() {
        let a = Rule::rsp_offset(8, false);
        let b = Rule::rsp_offset(16, true);
        let mut rows = vec![(0x100, a), (0x101, b)];
        apply_override(&mut rows, 0, (0x110, 0x112, Rule::RA_UNDEFINED), 0x120);
        assert_eq!(rows, vec![(0x100, a), (0x101, b), (0x110, Rule::RA_UNDEFINED), (0x112, b)]);
        // At the function's end nothing follows.
        let mut rows = vec![(0x100, a)];
        apply_override(&mut rows, 0, (0x11e, 0x120, Rule::RA_UNDEFINED), 0x120);
        assert_eq!(rows, vec![(0x100, a), (0x11e, Rule::RA_UNDEFINED)]);
    }

    /// The Go toolchains' own gofmt binaries (Go programs of a known version), when installed.
    const GOFMT_119: &str = "/usr/lib/go-1.19/bin/gofmt";
    const GOFMT_MACHINE: &str = "/usr/local/go/bin/gofmt";

    fn rows_of(table: &Pclntab<'_>, name: &[u8]) -> (u64, Vec<(u64, Rule)>) {
        let f = (0..table.len())
            .filter_map(|i| table.func(i).ok())
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{} not found", String::from_utf8_lossy(name)));
        let mut rows = Vec::new();
        assert!(function_rows(table, &f, &mut rows));
        assert!(rows.windows(2).all(|w| w[0].0 < w[1].0), "rows sorted");
        assert!(rows.iter().all(|&(pc, _)| pc >= f.entry && pc < f.end));
        (f.entry, rows)
    }

    fn check_real_runtime(path: &str, frame: bool) {
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(_) => {
                eprintln!("skipped: {} is not readable", path);
                return;
            }
        };
        let table = Pclntab::parse(&data).unwrap().expect("a Go binary");
        // systemstack: back to the goroutine through g.sched at its call of the target.
        let (_, rows) = rows_of(&table, b"runtime.systemstack");
        let ss: Vec<_> =
            rows.iter().filter(|(_, r)| r.cfa_kind == CfaKind::GoSystemstack).collect();
        assert_eq!(ss.len(), 1, "{}: {:?}", path, rows);
        let r = ss[0].1;
        assert_eq!(r.rbp_offset & 0xff_ffff, 0x07_06f8, "{}: tls -8, g.m 48, sched.sp 56", path);
        assert!(r.ra_offset > 56 && r.ra_offset < 1024, "m.curg {}", r.ra_offset);
        let expect = if frame { (16, RbpKind::CfaOffset) } else { (8, RbpKind::Unchanged) };
        assert_eq!((r.cfa_offset, r.rbp_kind), expect, "{}", path);
        // The call instruction alone: the next row goes back to the function's own rule.
        let at = rows.iter().position(|(_, x)| *x == r).unwrap();
        assert_eq!(rows[at + 1].0 - rows[at].0, 2, "call *%rdi is 2 bytes");
        assert_eq!(rows[at + 1].1.cfa_kind, CfaKind::RspOffset);
        // The stack ends at goexit and mstart; mcall's g0 part ends after its switch.
        for name in [&b"runtime.goexit"[..], b"runtime.mstart"] {
            assert_eq!(
                rows_of(&table, name).1,
                vec![(rows_of(&table, name).0, Rule::RA_UNDEFINED)]
            );
        }
        let (_, mcall) = rows_of(&table, b"runtime.mcall");
        assert_eq!(mcall.last().unwrap().1, Rule::RA_UNDEFINED);
        // asmcgocall: back to the goroutine's saved SP at its calls of C.
        let (_, cgo) = rows_of(&table, b"runtime.asmcgocall");
        assert!(cgo.iter().any(|(_, r)| r.cfa_kind == CfaKind::GoAsmcgocall), "{:?}", cgo);
        // An ordinary function: rsp-based everywhere, the caller's rbp at CFA - 16 once saved.
        let (entry, main) = rows_of(&table, b"main.main");
        assert_eq!(main[0], (entry, Rule::rsp_offset(8, false)));
        assert!(main.iter().any(|&(_, r)| r.rbp_kind == RbpKind::CfaOffset && r.rbp_offset == -16));
        assert!(main.iter().all(|(_, r)| r.cfa_kind == CfaKind::RspOffset));
    }

    /// A copy of `data` whose sections other than the ones a compact image keeps are
    /// `SHT_NOBITS` (what `src/unwind/_cfi_sections.ts` sends): their bytes can only come from
    /// the file.
    fn without_code(data: &[u8]) -> Vec<u8> {
        let keep: [&[u8]; 7] = [
            b".gopclntab",
            b".go.buildinfo",
            b".go.module",
            b".noptrdata",
            b".data",
            b".eh_frame",
            b".debug_frame",
        ];
        let view = crate::elf::ElfView::parse(data).unwrap();
        let shoff = u64::from_le_bytes(data[40..48].try_into().unwrap()) as usize;
        let shstrndx = usize::from(u16::from_le_bytes([data[62], data[63]]));
        let mut out = data.to_vec();
        for (i, s) in view.sections.iter().enumerate() {
            if i > 0 && i != shstrndx && !keep.contains(&s.name) {
                out[shoff + i * 64 + 4..shoff + i * 64 + 8].copy_from_slice(&8u32.to_le_bytes());
            }
        }
        out
    }

    fn check_sparse_build(path: &str) {
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(_) => {
                eprintln!("skipped: {} is not readable", path);
                return;
            }
        };
        let image = without_code(&data);
        let reads = std::cell::Cell::new((0usize, 0usize));
        let read_file = |offset: u64, buf: &mut [u8]| {
            let start = (offset as usize).min(data.len());
            let n = buf.len().min(data.len() - start);
            buf[..n].copy_from_slice(&data[start..start + n]);
            reads.set((reads.get().0 + 1, reads.get().1 + n));
            n
        };
        let whole = crate::build_unwind_table(&data).unwrap().to_bytes().unwrap();
        let sparse = crate::table::build_unwind_table_sparse(&image, &read_file)
            .unwrap()
            .to_bytes()
            .unwrap();
        assert!(whole == sparse, "{}: the sparse build differs", path);
        // The code came from the file, a window at a time, in address order: about as many
        // reads as the text has windows, not one per function.
        let (count, bytes) = reads.get();
        let text = crate::elf::ElfView::parse(&data).unwrap().section(b".text").unwrap().size;
        assert!(count > 0, "{}: nothing read from the file", path);
        assert!(count as u64 <= text / READ_WINDOW as u64 + 16, "{}: {} reads", path, count);
        assert!(bytes as u64 <= text + 16 * READ_WINDOW as u64, "{}: {} bytes", path, bytes);
        // A file that can no longer be read still gives a table (rbp rules where code is
        // missing are the conservative ones), without a panic.
        let nothing = |_: u64, _: &mut [u8]| 0usize;
        let blind = crate::table::build_unwind_table_sparse(&image, &nothing).unwrap();
        assert!(blind.to_bytes().unwrap().len() > 64);
    }

    #[test]
    fn sparse_builds_read_code_from_the_file_and_match_whole_ones() {
        check_sparse_build(GOFMT_119);
        check_sparse_build(GOFMT_MACHINE);
    }

    #[test]
    fn go_1_19_runtime_rows() {
        check_real_runtime(GOFMT_119, false);
    }

    #[test]
    fn machine_go_runtime_rows() {
        check_real_runtime(GOFMT_MACHINE, true);
    }
}
