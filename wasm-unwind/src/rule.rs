// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

//! Unwind rules for x86-64 and their classification from DWARF CFI rows.
//!
//! A [`Rule`] says how the BPF walker recovers the caller's registers at a PC: where the CFA
//! is, where the caller's `rbp` was saved, and where the return address is. Every gimli row
//! maps to exactly one rule; anything the walker cannot do becomes
//! [`CfaKind::ExprUnsupported`] with a reason, so BPF reports it instead of guessing.

use gimli::{CfaRule, Reader, Register, RegisterRule, UnwindContextStorage, UnwindTableRow};

/// DWARF register number of `rbp` on x86-64.
pub const RBP: Register = Register(6);
/// DWARF register number of `rsp` on x86-64.
pub const RSP: Register = Register(7);
/// DWARF register number of the return address (`rip`) on x86-64.
pub const RA: Register = Register(16);

/// Size of one serialized rule in bytes.
pub const RULE_SIZE: usize = 12;

/// How the CFA (the caller's `rsp` after return) is found. Values are the ABI's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum CfaKind {
    /// No unwind information here: the PC lies past the end of an FDE and before the next.
    /// Value 0, so zeroed memory reads as "not covered".
    EndOfFunction = 0,
    /// CFA = rsp + cfa_offset.
    RspOffset = 1,
    /// CFA = rbp + cfa_offset.
    RbpOffset = 2,
    /// glibc PLT stub: CFA = rsp + 8 + ((rip & 15) >= 11 ? 8 : 0).
    Plt1 = 3,
    /// glibc PLT stub variant: CFA = rsp + 8 + ((rip & 15) >= 10 ? 8 : 0).
    Plt2 = 4,
    /// Signal trampoline (CIE augmentation `S`, e.g. glibc `__restore_rt`): the kernel's
    /// `rt_sigframe` is at rsp. CFA = *(rsp + cfa_offset) (the saved rsp); the saved rbp is at
    /// rsp + rbp_offset (rbp kind [`RbpKind::RspOffset`]); the saved rip at rsp + ra_offset.
    /// The recovered rip is exact (not a return address): look up the next frame at rip.
    SignalFrame = 5,
    /// The return address is undefined: outermost frame (e.g. `_start`), the stack ends here.
    RaUndefined = 6,
    /// Anything else (another CFA register or expression, a return address not at CFA-8, an
    /// offset beyond i32). `cfa_offset` holds an [`UnsupportedReason`]. BPF reports it.
    ExprUnsupported = 7,
    /// Step with frame pointers: CFA = rbp + 16, return address at rbp + 8, caller's rbp at
    /// rbp. Go's `runtime.systemstack` after its switch to g0: rbp still holds the
    /// goroutine's frame pointer, so this steps back onto the goroutine's stack.
    FramePointer = 8,
    /// Go's `runtime.asmcgocall` on g0 after calling C: `[rsp]` is the goroutine's stack depth
    /// below `g.stack.hi`, `[rsp + 8]` the goroutine `g` (its `stack.hi` at offset 8); with no
    /// `g` (already on g0), `[rsp]` is the original rsp. The return address is at that rsp.
    GoAsmcgocall = 9,
    /// Go's `runtime.systemstack` at its call of the target function on g0: back to the
    /// goroutine's stack as Go's own traceback does, through `g.m.curg.sched.sp`. The current
    /// g is read from the thread's TLS (fs base + the signed byte 0 of `rbp_offset`), its `m`
    /// at byte 1 × 8, `m.curg` at `ra_offset`, `curg.sched.sp` at byte 2 × 8. CFA = that sp +
    /// `cfa_offset`, the return address at CFA - 8, the caller's rbp at CFA - 16 when the rbp
    /// kind is [`RbpKind::CfaOffset`] (else unchanged). The offsets are read from the
    /// function's own instructions, so they follow the runtime's struct layout of any version.
    GoSystemstack = 10,
}

/// How the caller's `rbp` is recovered. Values are the ABI's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum RbpKind {
    /// rbp is unchanged (same value, or no rule: the callee has not touched it).
    /// DWARF `undefined` for rbp is also mapped here: it never occurs for rbp in practice, and
    /// treating it as unchanged keeps walking frames whose CFA does not depend on rbp.
    Unchanged = 0,
    /// Saved at CFA + rbp_offset.
    CfaOffset = 1,
    /// Saved at rsp + rbp_offset (signal frames: the slot in the kernel's sigcontext).
    RspOffset = 2,
    /// In another register or computed by an expression: the walker cannot recover it.
    Unsupported = 3,
}

/// Why a rule is [`CfaKind::ExprUnsupported`]; stored in `cfa_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum UnsupportedReason {
    /// CFA is a DWARF expression other than the two PLT forms.
    CfaExpression = 1,
    /// CFA is based on a register other than rsp or rbp.
    CfaRegister = 2,
    /// The return address is not saved at CFA-8.
    ReturnAddress = 3,
    /// A signal frame whose CFI is not the `breg7 N; deref` form.
    SignalFrame = 4,
    /// An offset does not fit in i32 (or i16 for the return address).
    OffsetRange = 5,
}

/// One unwind rule. Serialized little-endian as 12 bytes:
/// `u8 cfa_kind, u8 rbp_kind, i16 ra_offset, i32 cfa_offset, i32 rbp_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rule {
    /// How the CFA is found.
    pub cfa_kind: CfaKind,
    /// How rbp is recovered.
    pub rbp_kind: RbpKind,
    /// Where the return address is: relative to the CFA (always -8 for ordinary rules), or to
    /// rsp for [`CfaKind::SignalFrame`]; 0 when there is none.
    pub ra_offset: i16,
    /// Offset for the CFA kind (see [`CfaKind`]).
    pub cfa_offset: i32,
    /// Offset for the rbp kind (see [`RbpKind`]).
    pub rbp_offset: i32,
}

impl Rule {
    /// The rule of the gaps between FDEs.
    pub const END_OF_FUNCTION: Rule = Rule {
        cfa_kind: CfaKind::EndOfFunction,
        rbp_kind: RbpKind::Unchanged,
        ra_offset: 0,
        cfa_offset: 0,
        rbp_offset: 0,
    };

    /// The rule of the outermost frame.
    pub const RA_UNDEFINED: Rule = Rule {
        cfa_kind: CfaKind::RaUndefined,
        rbp_kind: RbpKind::Unchanged,
        ra_offset: 0,
        cfa_offset: 0,
        rbp_offset: 0,
    };

    /// Step with frame pointers (see [`CfaKind::FramePointer`]).
    pub const FRAME_POINTER: Rule = Rule {
        cfa_kind: CfaKind::FramePointer,
        rbp_kind: RbpKind::CfaOffset,
        ra_offset: -8,
        cfa_offset: 16,
        rbp_offset: -16,
    };

    /// Go's `asmcgocall` stack switch (see [`CfaKind::GoAsmcgocall`]).
    pub const GO_ASMCGOCALL: Rule = Rule {
        cfa_kind: CfaKind::GoAsmcgocall,
        rbp_kind: RbpKind::Unchanged,
        ra_offset: -8,
        cfa_offset: 0,
        rbp_offset: 0,
    };

    /// Go's `systemstack` stack switch (see [`CfaKind::GoSystemstack`]) for a runtime whose
    /// current g is at `tls` from the fs base, `g.m` at `g_m`, `m.curg` at `m_curg` and
    /// `g.sched.sp` at `sched_sp`, where `systemstack` had pushed `pushed` bytes when it saved
    /// `sched.sp`, the caller's rbp among them when `rbp_saved` (Go 1.21 on). None when an
    /// offset does not fit the encoding.
    pub fn go_systemstack(
        tls: i32,
        g_m: i32,
        m_curg: i32,
        sched_sp: i32,
        pushed: i32,
        rbp_saved: bool,
    ) -> Option<Rule> {
        let tls = i8::try_from(tls).ok()?;
        let eighths = |v: i32| match v.checked_rem(8) {
            Some(0) => u8::try_from(v.checked_div(8)?).ok(),
            _ => None,
        };
        let packed = u32::from_le_bytes([tls as u8, eighths(g_m)?, eighths(sched_sp)?, 0]);
        Some(Rule {
            cfa_kind: CfaKind::GoSystemstack,
            rbp_kind: if rbp_saved { RbpKind::CfaOffset } else { RbpKind::Unchanged },
            ra_offset: i16::try_from(m_curg).ok()?,
            cfa_offset: pushed.checked_add(8)?,
            rbp_offset: packed as i32,
        })
    }

    /// CFA = rsp + `cfa_offset`, return address at CFA - 8, and rbp saved at CFA - 16 when
    /// `rbp_saved`, else unchanged.
    pub fn rsp_offset(cfa_offset: i32, rbp_saved: bool) -> Rule {
        Rule {
            cfa_kind: CfaKind::RspOffset,
            rbp_kind: if rbp_saved { RbpKind::CfaOffset } else { RbpKind::Unchanged },
            ra_offset: -8,
            cfa_offset,
            rbp_offset: if rbp_saved { -16 } else { 0 },
        }
    }

    /// An unsupported rule with its reason.
    pub fn unsupported(reason: UnsupportedReason) -> Rule {
        Rule {
            cfa_kind: CfaKind::ExprUnsupported,
            rbp_kind: RbpKind::Unchanged,
            ra_offset: 0,
            cfa_offset: reason as i32,
            rbp_offset: 0,
        }
    }

    /// The 12-byte little-endian serialization.
    pub fn to_bytes(&self) -> [u8; RULE_SIZE] {
        let ra = self.ra_offset.to_le_bytes();
        let cfa = self.cfa_offset.to_le_bytes();
        let rbp = self.rbp_offset.to_le_bytes();
        [
            self.cfa_kind as u8,
            self.rbp_kind as u8,
            ra[0],
            ra[1],
            cfa[0],
            cfa[1],
            cfa[2],
            cfa[3],
            rbp[0],
            rbp[1],
            rbp[2],
            rbp[3],
        ]
    }
}

/// `DW_OP_breg7 8; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_lit11; DW_OP_ge; DW_OP_lit3;
/// DW_OP_shl; DW_OP_plus` — glibc's `.plt` CFA (entries of 16 bytes; the `jmp *GOT` of the
/// lazy stub pushed 8 more bytes from offset 11 on).
pub const PLT1_EXPRESSION: [u8; 11] =
    [0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22];
/// The same with `DW_OP_lit10`: the `.plt.sec`/IBT layout.
pub const PLT2_EXPRESSION: [u8; 11] =
    [0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3a, 0x2a, 0x33, 0x24, 0x22];

/// Strips trailing padding (`DW_OP_nop` = 0x96, and zero bytes some producers leave).
fn trim_padding(mut bytes: &[u8]) -> &[u8] {
    while let Some((&last, rest)) = bytes.split_last() {
        if last == 0x96 || last == 0x00 {
            bytes = rest;
        } else {
            break;
        }
    }
    bytes
}

/// Classifies a CFA expression: PLT1, PLT2 or unsupported.
pub fn classify_cfa_expression(bytes: &[u8]) -> CfaKind {
    let bytes = trim_padding(bytes);
    if bytes == PLT1_EXPRESSION {
        CfaKind::Plt1
    } else if bytes == PLT2_EXPRESSION {
        CfaKind::Plt2
    } else {
        CfaKind::ExprUnsupported
    }
}

/// Reads an unsigned LEB128 at the start of `bytes`; returns (value, rest).
fn uleb(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        let shift = u32::try_from(i).ok()?.checked_mul(7)?;
        value |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some((value, bytes.get(i.checked_add(1)?..)?));
        }
    }
    None
}

/// Reads a signed LEB128 at the start of `bytes`; returns (value, rest).
fn sleb(bytes: &[u8]) -> Option<(i64, &[u8])> {
    let mut value: i64 = 0;
    let mut shift: u32 = 0;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= i64::from(b & 0x7f).checked_shl(shift)?;
        shift = shift.checked_add(7)?;
        if b & 0x80 == 0 {
            if shift < 64 && b & 0x40 != 0 {
                value |= (-1i64).checked_shl(shift)?;
            }
            return Some((value, bytes.get(i.checked_add(1)?..)?));
        }
    }
    None
}

/// Matches `DW_OP_bregN off` (optionally followed by `DW_OP_deref` when `deref`), returning
/// (register, offset) when the whole expression is exactly that.
fn match_breg(bytes: &[u8], deref: bool) -> Option<(u16, i64)> {
    // Only DW_OP_nop may follow: a zero byte can end a LEB128 operand, so no zero trimming.
    let (&op, rest) = bytes.split_first()?;
    let (reg, rest) = match op {
        0x70..=0x8f => (u64::from(op.checked_sub(0x70)?), rest),
        // DW_OP_bregx reg off
        0x92 => uleb(rest)?,
        _ => return None,
    };
    let (offset, rest) = sleb(rest)?;
    let rest = if deref {
        match rest.split_first() {
            Some((0x06, rest)) => rest,
            _ => return None,
        }
    } else {
        rest
    };
    if rest.iter().all(|&b| b == 0x96) {
        Some((u16::try_from(reg).ok()?, offset))
    } else {
        None
    }
}

/// Classifies one gimli unwind row.
///
/// `signal` is true when the FDE's CIE has augmentation `S`; `ra_register` is the CIE's return
/// address column.
pub fn classify<R: Reader, S: UnwindContextStorage<R>>(
    row: &UnwindTableRow<R, S>,
    signal: bool,
    ra_register: Register,
) -> Rule {
    // One pass over the row's rules for both registers (a missing rule is "undefined").
    let mut ra = RegisterRule::Undefined;
    let mut rbp = RegisterRule::Undefined;
    for (register, rule) in row.registers() {
        if *register == ra_register {
            ra = rule.clone();
        } else if *register == RBP {
            rbp = rule.clone();
        }
    }
    if signal {
        return classify_signal(row.cfa(), ra, rbp);
    }
    match ra {
        RegisterRule::Undefined => return Rule::RA_UNDEFINED,
        RegisterRule::Offset(-8) => {}
        _ => return Rule::unsupported(UnsupportedReason::ReturnAddress),
    }
    if ra_register != RA {
        return Rule::unsupported(UnsupportedReason::ReturnAddress);
    }
    let (cfa_kind, cfa_offset) = match row.cfa() {
        CfaRule::RegisterAndOffset { register, offset } => {
            let kind = match *register {
                RSP => CfaKind::RspOffset,
                RBP => CfaKind::RbpOffset,
                _ => return Rule::unsupported(UnsupportedReason::CfaRegister),
            };
            match i32::try_from(*offset) {
                Ok(offset) => (kind, offset),
                Err(_) => return Rule::unsupported(UnsupportedReason::OffsetRange),
            }
        }
        CfaRule::Expression(expr) => {
            let bytes = expr.0.to_slice().ok();
            match classify_cfa_expression(bytes.as_deref().unwrap_or(&[])) {
                CfaKind::ExprUnsupported => {
                    return Rule::unsupported(UnsupportedReason::CfaExpression)
                }
                kind => (kind, 8),
            }
        }
    };
    let (rbp_kind, rbp_offset) = match rbp {
        RegisterRule::Undefined | RegisterRule::SameValue => (RbpKind::Unchanged, 0),
        RegisterRule::Register(RBP) => (RbpKind::Unchanged, 0),
        RegisterRule::Offset(offset) => match i32::try_from(offset) {
            Ok(offset) => (RbpKind::CfaOffset, offset),
            Err(_) => (RbpKind::Unsupported, 0),
        },
        _ => (RbpKind::Unsupported, 0),
    };
    Rule { cfa_kind, rbp_kind, ra_offset: -8, cfa_offset, rbp_offset }
}

/// A signal frame: glibc's `__restore_rt` says CFA = *(rsp + 160) (`DW_OP_breg7 160;
/// DW_OP_deref`), rbp at rsp + 120, rip at rsp + 168 (`DW_OP_breg7 N` register expressions):
/// the `uc_mcontext` of the `rt_sigframe` the kernel pushed. The offsets are taken from the
/// CFI, not assumed.
fn classify_signal<R: Reader>(cfa: &CfaRule<R>, ra: RegisterRule<R>, rbp: RegisterRule<R>) -> Rule {
    let bad = Rule::unsupported(UnsupportedReason::SignalFrame);
    let cfa_offset = match cfa {
        CfaRule::Expression(expr) => {
            match expr.0.to_slice().ok().and_then(|b| match_breg(&b, true)) {
                Some((7, offset)) => offset,
                _ => return bad,
            }
        }
        _ => return bad,
    };
    let rsp_slot = |rule: RegisterRule<R>| match rule {
        RegisterRule::Expression(expr) => {
            match expr.0.to_slice().ok().and_then(|b| match_breg(&b, false)) {
                Some((7, offset)) => Some(offset),
                _ => None,
            }
        }
        _ => None,
    };
    let ra_offset = match rsp_slot(ra).map(i16::try_from) {
        Some(Ok(offset)) => offset,
        _ => return bad,
    };
    let (rbp_kind, rbp_offset) = match rbp {
        RegisterRule::Undefined | RegisterRule::SameValue => (RbpKind::Unchanged, 0),
        rule => match rsp_slot(rule).map(i32::try_from) {
            Some(Ok(offset)) => (RbpKind::RspOffset, offset),
            _ => (RbpKind::Unsupported, 0),
        },
    };
    match i32::try_from(cfa_offset) {
        Ok(cfa_offset) => {
            Rule { cfa_kind: CfaKind::SignalFrame, rbp_kind, ra_offset, cfa_offset, rbp_offset }
        }
        Err(_) => Rule::unsupported(UnsupportedReason::OffsetRange),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::integer_arithmetic)]
mod tests {
    use super::*;

    #[test]
    fn plt_expressions_are_recognised_with_and_without_padding() {
        assert_eq!(classify_cfa_expression(&PLT1_EXPRESSION), CfaKind::Plt1);
        assert_eq!(classify_cfa_expression(&PLT2_EXPRESSION), CfaKind::Plt2);
        let mut padded = PLT1_EXPRESSION.to_vec();
        padded.extend_from_slice(&[0x96, 0, 0]);
        assert_eq!(classify_cfa_expression(&padded), CfaKind::Plt1);
        let mut other = PLT1_EXPRESSION.to_vec();
        other[6] = 0x3c; // lit12
        assert_eq!(classify_cfa_expression(&other), CfaKind::ExprUnsupported);
        assert_eq!(classify_cfa_expression(&[]), CfaKind::ExprUnsupported);
        assert_eq!(classify_cfa_expression(&PLT1_EXPRESSION[..10]), CfaKind::ExprUnsupported);
    }

    #[test]
    fn breg_matching() {
        // DW_OP_breg7 160; DW_OP_deref
        assert_eq!(match_breg(&[0x77, 0xa0, 0x01, 0x06], true), Some((7, 160)));
        assert_eq!(match_breg(&[0x77, 0xa0, 0x01, 0x06], false), None);
        assert_eq!(match_breg(&[0x77, 0xa0, 0x01], false), Some((7, 160)));
        assert_eq!(match_breg(&[0x77, 0x78], false), Some((7, -8)));
        // 120 encodes as f8 00: the final zero is an operand byte, not padding.
        assert_eq!(match_breg(&[0x77, 0xf8, 0x00], false), Some((7, 120)));
        assert_eq!(match_breg(&[0x77, 0xf8, 0x00, 0x96], false), Some((7, 120)));
        // DW_OP_bregx 7 16
        assert_eq!(match_breg(&[0x92, 0x07, 0x10], false), Some((7, 16)));
        assert_eq!(match_breg(&[0x77], false), None);
        assert_eq!(match_breg(&[0x77, 0x80], false), None);
        assert_eq!(match_breg(&[0x77, 0x08, 0x06, 0x06], true), None);
        assert_eq!(
            match_breg(
                &[0x77, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
                false
            ),
            None
        );
    }

    #[test]
    fn rule_serialization_is_12_bytes_little_endian() {
        let rule = Rule {
            cfa_kind: CfaKind::SignalFrame,
            rbp_kind: RbpKind::RspOffset,
            ra_offset: 168,
            cfa_offset: 160,
            rbp_offset: -2,
        };
        assert_eq!(rule.to_bytes(), [5, 2, 168, 0, 160, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
        assert_eq!(Rule::END_OF_FUNCTION.to_bytes(), [0; 12]);
    }
}
