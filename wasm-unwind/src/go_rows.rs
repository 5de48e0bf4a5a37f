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
//! - `systemstack`, at its call of the target function on g0: a frame-pointer step, since rbp
//!   still holds the goroutine's frame pointer (this skips the frame of `systemstack`'s caller,
//!   whose return address only the goroutine's `g.sched` holds);
//! - `asmcgocall`, at its calls of C on g0: back to the goroutine's SP saved on the g0 stack;
//! - `mcall` after its switch (rbp cleared, the goroutine parked) and `morestack`: the g0
//!   stack ends here, as in Go's own tracebacks;
//! - other functions that write SP (`SPWRITE`): `pcsp` until the first push, then frame
//!   pointers if they saved rbp, else the end of the stack.

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
    let code = table.code(f.entry, size).unwrap_or(&[]);
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

    let saved_from = segments
        .iter()
        .find(|s| s.value > 0)
        .and_then(|s| rbp_saved_from(code, f.entry, s.start, s.value));
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
        Some(Special::Systemstack) => calls
            .first()
            .map(|&(at, len)| span(f.entry, at, len, Rule::FRAME_POINTER))
            .into_iter()
            .flatten()
            .collect(),
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
