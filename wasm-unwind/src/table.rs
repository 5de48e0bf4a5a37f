// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

//! The compact unwind table of an x86-64 ELF file.
//!
//! Every FDE of `.eh_frame` is evaluated with gimli (`FrameDescriptionEntry::rows`, one reused
//! `UnwindContext`); FDEs that only `.debug_frame` has are added. Each row is classified into a
//! [`Rule`]; distinct rules are stored once. The rows are sorted by PC, consecutive rows with
//! the same rule are merged, and an end-of-function row marks the end of an FDE that the next
//! FDE does not start at. Looking up a PC = binary search for the last row with `pc <= PC`.
//!
//! Work is bounded: at most [`MAX_FDES`] FDEs, [`MAX_INSTRUCTION_BYTES`] of CFI evaluated
//! (a CIE's initial instructions count for every FDE that uses them), [`MAX_ROWS`] rows and
//! [`MAX_RULES`] distinct rules; beyond that the build fails with [`Error::LimitExceeded`].

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use gimli::{
    BaseAddresses, CieOrFde, CommonInformationEntry, DebugFrame, EhFrame, EndianSlice,
    FrameDescriptionEntry, LittleEndian, Register, RegisterRule, UnwindContext,
    UnwindContextStorage, UnwindOffset, UnwindSection, UnwindTableRow,
};
use object::elf;

use crate::elf::ElfView;
use crate::error::{CfiSection, Error, Limit, Result};
use crate::go_rows::function_rows;
use crate::gopclntab::{Pclntab, ReadFile};
use crate::rule::{classify, Rule, RULE_SIZE};

/// Most rows a table may have (after deduplication).
pub const MAX_ROWS: usize = 16 << 20;
/// Most distinct rules: the packed row holds a u16 rule index.
pub const MAX_RULES: usize = 1 << 16;
/// Most CFI bytes evaluated for one file (CIE initial instructions count once per FDE).
pub const MAX_INSTRUCTION_BYTES: u64 = 256 << 20;
/// Most FDEs in one file.
pub const MAX_FDES: usize = 4 << 20;

/// Work limits of one build; [`Limits::default`] holds the `MAX_*` constants. Tests lower
/// them to reach the limit paths with small inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most rows after deduplication.
    pub rows: usize,
    /// Most CFI bytes evaluated.
    pub instruction_bytes: u64,
    /// Most FDEs.
    pub fdes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { rows: MAX_ROWS, instruction_bytes: MAX_INSTRUCTION_BYTES, fdes: MAX_FDES }
    }
}

/// Magic of the serialized table: `UWT1`.
pub const TABLE_MAGIC: [u8; 4] = *b"UWT1";
/// Version of the serialized table.
pub const TABLE_VERSION: u16 = 1;
/// Size of the serialized header.
pub const HEADER_SIZE: usize = 64;

/// `flags` bit: the file has `.eh_frame` bytes.
pub const FLAG_EH_FRAME: u32 = 1;
/// `flags` bit: the file has `.debug_frame` bytes.
pub const FLAG_DEBUG_FRAME: u32 = 2;
/// `flags` bit: `.debug_frame` is compressed and was ignored (no inflater in this build).
pub const FLAG_DEBUG_FRAME_COMPRESSED: u32 = 4;
/// `flags` bit: `.debug_frame` is corrupt; FDEs read before the damage were kept.
pub const FLAG_DEBUG_FRAME_CORRUPT: u32 = 8;
/// `flags` bit: rows of Go functions come from `.gopclntab` (counted in `fdes_used`; they take
/// precedence over `.eh_frame` and `.debug_frame` entries overlapping them).
pub const FLAG_GOPCLNTAB: u32 = 16;
/// `flags` bit: the file has a `.gopclntab` that could not be read; CFI alone was used.
pub const FLAG_GOPCLNTAB_CORRUPT: u32 = 32;

type Slice<'a> = EndianSlice<'a, LittleEndian>;

/// Bounded scratch storage for gimli: at most 64 register rules per row and 16 nested
/// `DW_CFA_remember_state`s. gimli's default `StoreOnHeap` grows its state stack without
/// bound, so a run of `remember_state` bytes could exhaust memory.
struct BoundedStore;

impl<R: gimli::Reader> UnwindContextStorage<R> for BoundedStore {
    type Rules = [(Register, RegisterRule<R>); 64];
    type Stack = [UnwindTableRow<R, Self>; 16];
}

/// FxHash (rustc's hasher): much faster than SipHash for small keys; inputs are not
/// attacker-chosen in a way that matters (the maps are bounded by the work limits).
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn write_i16(&mut self, i: i16) {
        self.write_u16(i as u16);
    }
    fn write_i32(&mut self, i: i32) {
        self.write_u32(i as u32);
    }
}

type FxBuild = BuildHasherDefault<FxHasher>;

/// Counters describing how a table was built. Serialized in the header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// `FLAG_*` bits.
    pub flags: u32,
    /// FDEs read from `.eh_frame`.
    pub eh_frame_fdes: u32,
    /// FDEs read from `.debug_frame`.
    pub debug_frame_fdes: u32,
    /// `.debug_frame` FDEs added because no `.eh_frame` FDE overlaps them.
    pub debug_frame_fdes_added: u32,
    /// FDEs whose rows are in the table.
    pub fdes_used: u32,
    /// FDEs skipped because their CIE or instructions are corrupt.
    pub fdes_skipped: u32,
    /// FDEs skipped because they start inside an FDE already taken.
    pub fdes_overlapping: u32,
    /// FDEs skipped because they start outside every executable `PT_LOAD` segment.
    pub fdes_outside_code: u32,
    /// FDEs covering no bytes.
    pub fdes_empty: u32,
}

/// The unwind table: distinct rules and rows sorted by PC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnwindTable {
    /// Distinct rules; index 0 is always [`Rule::END_OF_FUNCTION`].
    pub rules: Vec<Rule>,
    /// Row start PCs (ELF virtual addresses), strictly increasing.
    pub pcs: Vec<u64>,
    /// Rule index of each row.
    pub rule_indices: Vec<u16>,
    /// How the table was built.
    pub stats: Stats,
}

impl UnwindTable {
    /// The rule that applies at `pc`, if any row starts at or before it.
    pub fn lookup(&self, pc: u64) -> Option<&Rule> {
        let n = self.pcs.partition_point(|&p| p <= pc);
        let i = n.checked_sub(1)?;
        let index = *self.rule_indices.get(i)?;
        self.rules.get(usize::from(index))
    }

    /// The table of a serialized form that [`build_with_go_bytes`] wrote, with its rules
    /// (the rules are not decoded again).
    fn from_serialized(bytes: &[u8], rules: Vec<Rule>) -> Result<UnwindTable> {
        let word = |at: usize| -> Result<u32> {
            let b = bytes.get(at..at.saturating_add(4)).ok_or(Error::OutOfMemory)?;
            Ok(u32::from_le_bytes(b.try_into().map_err(|_| Error::OutOfMemory)?))
        };
        let rows = word(12)? as usize;
        let pcs_offset = word(20)? as usize;
        let indices_offset = word(24)? as usize;
        let pcs_end = rows.checked_mul(8).and_then(|n| n.checked_add(pcs_offset));
        let ids_end = rows.checked_mul(2).and_then(|n| n.checked_add(indices_offset));
        let pcs_bytes = pcs_end.and_then(|end| bytes.get(pcs_offset..end));
        let ids_bytes = ids_end.and_then(|end| bytes.get(indices_offset..end));
        let (pcs_bytes, ids_bytes) = match (pcs_bytes, ids_bytes) {
            (Some(p), Some(i)) => (p, i),
            _ => return Err(Error::OutOfMemory),
        };
        let pcs = pcs_bytes
            .chunks_exact(8)
            .map(|c| c.try_into().map(u64::from_le_bytes).unwrap_or(0))
            .collect();
        let rule_indices = ids_bytes
            .chunks_exact(2)
            .map(|c| c.try_into().map(u16::from_le_bytes).unwrap_or(0))
            .collect();
        let stats = Stats {
            flags: word(28)?,
            eh_frame_fdes: word(32)?,
            debug_frame_fdes: word(36)?,
            debug_frame_fdes_added: word(40)?,
            fdes_used: word(44)?,
            fdes_skipped: word(48)?,
            fdes_overlapping: word(52)?,
            fdes_outside_code: word(56)?,
            fdes_empty: word(60)?,
        };
        Ok(UnwindTable { rules, pcs, rule_indices, stats })
    }

    /// The serialized form (the ABI's `unwind_table` result; layout in `README.md`):
    /// a 64-byte header, the rules (12 bytes each), padding to 8, the PCs (u64 each), the rule
    /// indices (u16 each), all little-endian. The builder writes the same bytes directly
    /// ([`build_unwind_table_bytes`]); both write the header with [`write_header`].
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let layout = Layout::new(self.rules.len(), self.pcs.len())?;
        let mut out = Vec::new();
        out.try_reserve_exact(layout.total).map_err(|_| Error::OutOfMemory)?;
        out.resize(layout.total, 0);
        write_header(&mut out, &layout, &self.rules, &self.stats)?;
        if let Some(pcs) = out.get_mut(layout.pcs_offset..layout.indices_offset) {
            for (dst, pc) in pcs.chunks_exact_mut(8).zip(&self.pcs) {
                dst.copy_from_slice(&pc.to_le_bytes());
            }
        }
        if let Some(indices) = out.get_mut(layout.indices_offset..) {
            for (dst, index) in indices.chunks_exact_mut(2).zip(&self.rule_indices) {
                dst.copy_from_slice(&index.to_le_bytes());
            }
        }
        Ok(out)
    }
}

/// Offsets of the parts of a serialized table of `rows` rows and `rules` rules.
#[derive(Debug, Clone, Copy)]
struct Layout {
    rules: usize,
    rows: usize,
    /// End of the rules (the header is at 0, the rules at [`HEADER_SIZE`]).
    rules_end: usize,
    /// Offset of the PCs: `rules_end` rounded up to 8.
    pcs_offset: usize,
    /// Offset of the rule indices, right after the PCs.
    indices_offset: usize,
    /// Size of the whole table.
    total: usize,
}

impl Layout {
    fn new(rules: usize, rows: usize) -> Result<Layout> {
        let rules_size = rules.checked_mul(RULE_SIZE).ok_or(Error::OutOfMemory)?;
        let rules_end = HEADER_SIZE.checked_add(rules_size).ok_or(Error::OutOfMemory)?;
        let pcs_offset = rules_end.checked_add(7).ok_or(Error::OutOfMemory)? & !7;
        let pcs_size = rows.checked_mul(8).ok_or(Error::OutOfMemory)?;
        let indices_offset = pcs_offset.checked_add(pcs_size).ok_or(Error::OutOfMemory)?;
        let ids_size = rows.checked_mul(2).ok_or(Error::OutOfMemory)?;
        let total = indices_offset.checked_add(ids_size).ok_or(Error::OutOfMemory)?;
        Ok(Layout { rules, rows, rules_end, pcs_offset, indices_offset, total })
    }
}

/// Writes the header, the rules and the padding after them into `out[..layout.pcs_offset]`:
/// the one writer of the header, for [`UnwindTable::to_bytes`] and the builder's direct
/// serialization alike, so the two cannot differ. `rules.len()` must be `layout.rules`.
fn write_header(out: &mut [u8], layout: &Layout, rules: &[Rule], stats: &Stats) -> Result<()> {
    let u32_of = |n: usize| u32::try_from(n).map_err(|_| Error::LimitExceeded(Limit::Rows));
    if rules.len() != layout.rules {
        return Err(Error::OutOfMemory);
    }
    let out = out.get_mut(..layout.pcs_offset).ok_or(Error::OutOfMemory)?;
    let (header, rest) = out.split_at_mut(HEADER_SIZE.min(out.len()));
    let mut at = 0usize;
    let mut put = |bytes: &[u8]| -> Result<()> {
        let end = at.checked_add(bytes.len()).ok_or(Error::OutOfMemory)?;
        header.get_mut(at..end).ok_or(Error::OutOfMemory)?.copy_from_slice(bytes);
        at = end;
        Ok(())
    };
    put(&TABLE_MAGIC)?;
    put(&TABLE_VERSION.to_le_bytes())?;
    put(&u16::try_from(HEADER_SIZE).unwrap_or(64).to_le_bytes())?;
    for value in [
        u32_of(layout.rules)?,
        u32_of(layout.rows)?,
        u32_of(HEADER_SIZE)?,
        u32_of(layout.pcs_offset)?,
        u32_of(layout.indices_offset)?,
        stats.flags,
        stats.eh_frame_fdes,
        stats.debug_frame_fdes,
        stats.debug_frame_fdes_added,
        stats.fdes_used,
        stats.fdes_skipped,
        stats.fdes_overlapping,
        stats.fdes_outside_code,
        stats.fdes_empty,
    ] {
        put(&value.to_le_bytes())?;
    }
    if at != HEADER_SIZE {
        return Err(Error::OutOfMemory);
    }
    let (body, padding) =
        rest.split_at_mut(layout.rules_end.saturating_sub(HEADER_SIZE).min(rest.len()));
    for (dst, rule) in body.chunks_exact_mut(RULE_SIZE).zip(rules) {
        dst.copy_from_slice(&rule.to_bytes());
    }
    padding.fill(0);
    Ok(())
}

/// The CFI sections and addresses a table is built from. Built from an ELF file by
/// [`CfiInput::from_view`], or by hand in tests.
#[derive(Debug, Clone, Default)]
pub struct CfiInput<'a> {
    /// `.eh_frame` bytes (empty when absent).
    pub eh_frame: &'a [u8],
    /// `.eh_frame` address (for `DW_EH_PE_pcrel`).
    pub eh_frame_addr: u64,
    /// `.eh_frame_hdr` address (for `DW_EH_PE_datarel` in some producers).
    pub eh_frame_hdr_addr: u64,
    /// `.text` address (for `DW_EH_PE_textrel`).
    pub text_addr: u64,
    /// `.got` address (for `DW_EH_PE_datarel` on x86-64).
    pub got_addr: u64,
    /// `.debug_frame` bytes (empty when absent).
    pub debug_frame: &'a [u8],
    /// Executable address ranges `[start, end)`; FDEs starting outside all of them are dropped
    /// (e.g. `.debug_frame` entries of functions the linker garbage-collected to address 0).
    /// Empty: no filtering.
    pub code_ranges: Vec<(u64, u64)>,
    /// Extra `FLAG_*` bits found while reading the file.
    pub flags: u32,
}

impl<'a> CfiInput<'a> {
    /// Finds the CFI sections of an x86-64 little-endian ELF64 file.
    pub fn from_view(view: &ElfView<'a>) -> Result<Self> {
        if view.class != 64 || !view.little_endian || view.e_machine != elf::EM_X86_64 {
            return Err(Error::UnsupportedArchitecture(view.e_machine));
        }
        let addr = |name: &[u8]| view.section(name).map_or(0, |s| s.addr);
        let mut input = CfiInput {
            eh_frame_addr: addr(b".eh_frame"),
            eh_frame_hdr_addr: addr(b".eh_frame_hdr"),
            text_addr: addr(b".text"),
            got_addr: addr(b".got"),
            ..CfiInput::default()
        };
        if let Some(s) = view.section(b".eh_frame").filter(|s| s.has_data) {
            input.eh_frame = s.data;
            input.flags |= FLAG_EH_FRAME;
        }
        if let Some(s) = view.section(b".debug_frame").filter(|s| s.has_data) {
            input.flags |= FLAG_DEBUG_FRAME;
            if s.flags & u64::from(elf::SHF_COMPRESSED) != 0 {
                input.flags |= FLAG_DEBUG_FRAME_COMPRESSED;
            } else {
                input.debug_frame = s.data;
            }
        }
        if view.section(b".zdebug_frame").map_or(false, |s| s.has_data) {
            input.flags |= FLAG_DEBUG_FRAME | FLAG_DEBUG_FRAME_COMPRESSED;
        }
        input.code_ranges =
            view.exec_segments().map(|s| (s.vaddr, s.vaddr.saturating_add(s.memsz))).collect();
        Ok(input)
    }
}

/// Builds the unwind table of an ELF file: its Go functions from `.gopclntab`, everything
/// else from `.eh_frame` and `.debug_frame`.
pub fn build_unwind_table(data: &[u8]) -> Result<UnwindTable> {
    let (bytes, rules) = build_file(data, None)?;
    UnwindTable::from_serialized(&bytes, rules)
}

/// [`build_unwind_table`]'s table in its serialized form ([`UnwindTable::to_bytes`]), written
/// as it is built (what the ABI's `unwind_table` returns): the same bytes, with less memory at
/// the peak.
pub fn build_unwind_table_bytes(data: &[u8]) -> Result<Vec<u8>> {
    build_file(data, None).map(|(bytes, _)| bytes)
}

/// Builds the unwind table from a compact image of an ELF file (see `src/unwind/_cfi_sections.ts`):
/// the file's headers, its CFI sections and, for a Go file, `.gopclntab` and the sections that
/// hold `moduledata`; the Go functions' code is read from the file through `read_file`
/// ([`Pclntab::from_sparse_view`]), a bounded window at a time. The table is the one
/// [`build_unwind_table`] builds from the whole file.
pub fn build_unwind_table_sparse(data: &[u8], read_file: ReadFile<'_>) -> Result<UnwindTable> {
    let (bytes, rules) = build_file(data, Some(read_file))?;
    UnwindTable::from_serialized(&bytes, rules)
}

/// [`build_unwind_table_sparse`]'s table in its serialized form, written as it is built (what
/// the ABI's `unwind_table_sparse` returns).
pub fn build_unwind_table_sparse_bytes(data: &[u8], read_file: ReadFile<'_>) -> Result<Vec<u8>> {
    build_file(data, Some(read_file)).map(|(bytes, _)| bytes)
}

/// The serialized table and the rules of an ELF file (`read_file`: `data` is a compact image).
fn build_file<'a>(data: &'a [u8], read_file: Option<ReadFile<'a>>) -> Result<(Vec<u8>, Vec<Rule>)> {
    let view = ElfView::parse(data)?;
    let mut input = CfiInput::from_view(&view)?;
    let go = match read_file {
        Some(read_file) => Pclntab::from_sparse_view(&view, data, read_file),
        None => Pclntab::from_view(&view, data),
    };
    let go = match go {
        Ok(go) => go,
        Err(_) => {
            input.flags |= FLAG_GOPCLNTAB_CORRUPT;
            None
        }
    };
    build(&input, go.as_ref(), &Limits::default())
}

/// Rule → index map: open addressing with linear probing, keys compared as rules. It replaces
/// a `HashMap<Rule, u16>` that cost 11% of the WebAssembly build time (hashbrown has no SIMD
/// group probing on wasm32, and SipHash/u128 keys are slow there); the hash uses 64-bit
/// operations only. At most 65,536 entries, kept under half full.
struct RuleIds {
    /// `index + 1` per slot; 0 = empty.
    slots: Vec<u32>,
}

impl RuleIds {
    fn new() -> Self {
        RuleIds { slots: vec![0; 1024] }
    }

    fn hash(rule: &Rule) -> u64 {
        let a =
            u64::from(rule.cfa_offset as u32) | u64::from(rule.rbp_offset as u32).wrapping_shl(32);
        let b = u64::from(rule.cfa_kind as u8)
            | u64::from(rule.rbp_kind as u8).wrapping_shl(8)
            | u64::from(rule.ra_offset as u16).wrapping_shl(16);
        (a ^ b.rotate_left(41)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    fn slot_of(slots_len: usize, rule: &Rule) -> usize {
        // slots_len is a power of two.
        Self::hash(rule).wrapping_shr(32) as usize & slots_len.wrapping_sub(1)
    }

    fn get(&self, rules: &[Rule], rule: &Rule) -> Option<u16> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = Self::slot_of(self.slots.len(), rule);
        loop {
            match self.slots.get(i).copied() {
                Some(0) | None => return None,
                Some(v) => {
                    let id = v.wrapping_sub(1);
                    if rules.get(id as usize) == Some(rule) {
                        return u16::try_from(id).ok();
                    }
                }
            }
            i = i.wrapping_add(1) & mask;
        }
    }

    /// Records that `rules[id]` (already pushed) has index `id`.
    fn insert(&mut self, rules: &[Rule], id: u16) {
        if rules.len().saturating_mul(2) > self.slots.len() {
            let mut slots = vec![0u32; self.slots.len().saturating_mul(2)];
            for (k, rule) in rules.iter().enumerate() {
                Self::place(&mut slots, rule, u32::try_from(k).unwrap_or(0).wrapping_add(1));
            }
            self.slots = slots;
        } else if let Some(rule) = rules.get(usize::from(id)) {
            Self::place(&mut self.slots, rule, u32::from(id).wrapping_add(1));
        }
    }

    fn place(slots: &mut [u32], rule: &Rule, value: u32) {
        let mask = slots.len().wrapping_sub(1);
        let mut i = Self::slot_of(slots.len(), rule);
        // Terminates: the table is never more than half full.
        for _ in 0..slots.len() {
            match slots.get_mut(i) {
                Some(slot) if *slot == 0 => {
                    *slot = value;
                    return;
                }
                _ => i = i.wrapping_add(1) & mask,
            }
        }
    }
}

/// Rows per block of a [`RowStore`]: 64 Ki rows, 384 KiB.
const BLOCK_ROWS: usize = 1 << 16;
/// log2 of [`BLOCK_ROWS`].
const BLOCK_SHIFT: u32 = 16;
/// The offset stored for a row whose PC is not in `[start, start + WIDE)` of its FDE: its PC
/// is in [`RowStore::wide`] instead.
const WIDE: u32 = u32::MAX;

/// A block of raw rows: at most [`BLOCK_ROWS`] PC offsets and their rule indices.
#[derive(Default)]
struct RowBlock {
    offsets: Vec<u32>,
    ids: Vec<u16>,
}

/// The evaluator's raw rows (each FDE's rows contiguous, addressed by a flat index), in blocks
/// of [`BLOCK_ROWS`] instead of one doubling pair of vectors: a large file's rows then never
/// exist twice while a vector is reallocated, and the unused capacity is under one block (the
/// first block grows by doubling, so a small file's store stays small). Every block but the
/// last is full, so row `i` is in block `i / BLOCK_ROWS` at `i % BLOCK_ROWS`.
///
/// A row's PC is kept as a u32 offset from the start of its FDE (the caller passes the same
/// start to [`RowStore::push`] and [`RowStore::for_each`]): 6 bytes per row instead of 10, the
/// largest part of the builder's memory besides the result. Every real FDE spans less than 4
/// GiB; a row further from its start (a corrupt or crafted FDE) is stored as [`WIDE`] with its
/// full PC in `wide`, so every table stays exactly what it was with u64 PCs.
#[derive(Default)]
struct RowStore {
    blocks: Vec<RowBlock>,
    len: usize,
    /// `(row index, pc)` of the rows stored as [`WIDE`], by increasing index.
    wide: Vec<(usize, u64)>,
}

impl RowStore {
    fn len(&self) -> usize {
        self.len
    }

    /// Appends a row of the FDE starting at `start`.
    fn push(&mut self, start: u64, pc: u64, id: u16) {
        let offset = pc
            .checked_sub(start)
            .and_then(|d| u32::try_from(d).ok())
            .filter(|&d| d != WIDE)
            .unwrap_or(WIDE);
        let full = self.blocks.last().map_or(true, |b| b.offsets.len() >= BLOCK_ROWS);
        if full {
            let block = if self.blocks.is_empty() {
                RowBlock::default()
            } else {
                RowBlock {
                    offsets: Vec::with_capacity(BLOCK_ROWS),
                    ids: Vec::with_capacity(BLOCK_ROWS),
                }
            };
            self.blocks.push(block);
        }
        if let Some(block) = self.blocks.last_mut() {
            if offset == WIDE {
                self.wide.push((self.len, pc));
            }
            block.offsets.push(offset);
            block.ids.push(id);
            self.len = self.len.saturating_add(1);
        }
    }

    /// Keeps the first `len` rows.
    fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        // Blocks needed for `len` rows (every block but the last full).
        let keep = len.wrapping_add(BLOCK_ROWS.wrapping_sub(1)).wrapping_shr(BLOCK_SHIFT);
        self.blocks.truncate(keep);
        let in_last = len & BLOCK_ROWS.wrapping_sub(1);
        if let Some(block) = self.blocks.last_mut() {
            if in_last != 0 {
                block.offsets.truncate(in_last);
                block.ids.truncate(in_last);
            }
        }
        let wide_kept = self.wide.partition_point(|&(i, _)| i < len);
        self.wide.truncate(wide_kept);
        self.len = len;
    }

    /// Calls `f(pc, id)` for rows `first..first + count`, in order; `start` is the start of
    /// the FDE they were pushed with.
    fn for_each<F: FnMut(u64, u16) -> Result<()>>(
        &self,
        first: usize,
        count: usize,
        start: u64,
        mut f: F,
    ) -> Result<()> {
        let end = first.saturating_add(count).min(self.len);
        let mut i = first;
        while i < end {
            let block = match self.blocks.get(i.wrapping_shr(BLOCK_SHIFT)) {
                Some(block) => block,
                None => return Ok(()),
            };
            let from = i & BLOCK_ROWS.wrapping_sub(1);
            let n = end.saturating_sub(i).min(BLOCK_ROWS.saturating_sub(from));
            let to = from.saturating_add(n);
            let offsets = block.offsets.get(from..to).unwrap_or(&[]);
            let ids = block.ids.get(from..to).unwrap_or(&[]);
            for (k, (&offset, &id)) in offsets.iter().zip(ids).enumerate() {
                let pc = if offset == WIDE {
                    self.wide_pc(i.saturating_add(k)).ok_or(Error::OutOfMemory)?
                } else {
                    start.wrapping_add(u64::from(offset))
                };
                f(pc, id)?;
            }
            i = i.saturating_add(n);
        }
        Ok(())
    }

    /// The PC of row `i`, stored as [`WIDE`].
    fn wide_pc(&self, i: usize) -> Option<u64> {
        let at = self.wide.binary_search_by_key(&i, |&(index, _)| index).ok()?;
        self.wide.get(at).map(|&(_, pc)| pc)
    }
}

/// One evaluated FDE: its range and its rows in the evaluator's flat row buffer.
#[derive(Debug, Clone, Copy)]
struct FdeRef {
    start: u64,
    end: u64,
    first_row: usize,
    rows: usize,
}

/// Caches parsed CIEs by offset; the last one used is checked first (consecutive FDEs nearly
/// always share a CIE).
struct CieCache<'a> {
    last: Option<(usize, CommonInformationEntry<Slice<'a>>)>,
    map: HashMap<usize, CommonInformationEntry<Slice<'a>>, FxBuild>,
}

impl<'a> CieCache<'a> {
    fn new() -> Self {
        CieCache { last: None, map: HashMap::default() }
    }

    fn get<S: UnwindSection<Slice<'a>>>(
        &mut self,
        section: &S,
        bases: &BaseAddresses,
        offset: S::Offset,
    ) -> gimli::Result<CommonInformationEntry<Slice<'a>>> {
        let key = UnwindOffset::into(offset);
        if let Some((last_key, cie)) = &self.last {
            if *last_key == key {
                return Ok(cie.clone());
            }
        }
        let cie = match self.map.get(&key) {
            Some(cie) => cie.clone(),
            None => {
                let cie = section.cie_from_offset(bases, offset)?;
                self.map.insert(key, cie.clone());
                cie
            }
        };
        self.last = Some((key, cie.clone()));
        Ok(cie)
    }
}

/// Evaluates FDEs, section by section, into one flat row buffer (each FDE's rows contiguous),
/// interning rules as it goes. Every FDE is parsed and evaluated exactly once.
struct Evaluator {
    rules: Vec<Rule>,
    rule_ids: RuleIds,
    last_rule: Option<(Rule, u16)>,
    raw: RowStore,
    fdes: Vec<FdeRef>,
    budget: u64,
    limits: Limits,
    stats: Stats,
}

impl Evaluator {
    fn intern(&mut self, rule: Rule) -> Result<u16> {
        if let Some((last, id)) = self.last_rule {
            if last == rule {
                return Ok(id);
            }
        }
        let id = match self.rule_ids.get(&self.rules, &rule) {
            Some(id) => id,
            None => {
                let id = u16::try_from(self.rules.len())
                    .map_err(|_| Error::LimitExceeded(Limit::Rules))?;
                self.rules.push(rule);
                self.rule_ids.insert(&self.rules, id);
                id
            }
        };
        self.last_rule = Some((rule, id));
        Ok(id)
    }

    /// Walks one section's entries. `accept(start, end)` says whether an FDE is wanted; a
    /// structural error stops the walk (FDEs evaluated before it are kept).
    fn section<'a, S, F>(
        &mut self,
        section: &S,
        bases: &BaseAddresses,
        which: CfiSection,
        ctx: &mut UnwindContext<Slice<'a>, BoundedStore>,
        mut accept: F,
    ) -> Result<()>
    where
        S: UnwindSection<Slice<'a>>,
        F: FnMut(u64, u64, &mut Stats) -> bool,
    {
        let mut cache = CieCache::new();
        let mut entries = section.entries(bases);
        let mut last_offset: u64 = 0;
        loop {
            let partial = match entries.next() {
                Ok(Some(CieOrFde::Fde(partial))) => partial,
                Ok(Some(CieOrFde::Cie(cie))) => {
                    last_offset = cie.offset() as u64;
                    continue;
                }
                Ok(None) => return Ok(()),
                Err(error) => {
                    return Err(Error::CorruptCfi { section: which, offset: last_offset, error })
                }
            };
            let fde = match partial.parse(|s, b, o| cache.get(s, b, o)) {
                Ok(fde) => fde,
                Err(_) => {
                    self.stats.fdes_skipped = self.stats.fdes_skipped.saturating_add(1);
                    continue;
                }
            };
            last_offset = fde.offset() as u64;
            match which {
                CfiSection::EhFrame => {
                    self.stats.eh_frame_fdes = self.stats.eh_frame_fdes.saturating_add(1)
                }
                CfiSection::DebugFrame => {
                    self.stats.debug_frame_fdes = self.stats.debug_frame_fdes.saturating_add(1)
                }
            }
            let start = fde.initial_address();
            let end = match start.checked_add(fde.len()) {
                Some(end) if end > start => end,
                _ => {
                    self.stats.fdes_empty = self.stats.fdes_empty.saturating_add(1);
                    continue;
                }
            };
            if !accept(start, end, &mut self.stats) {
                continue;
            }
            if self.fdes.len() >= self.limits.fdes {
                return Err(Error::LimitExceeded(Limit::Fdes));
            }
            let cost = (fde.entry_len() as u64).saturating_add(fde.cie().entry_len() as u64);
            self.budget = self
                .budget
                .checked_sub(cost)
                .ok_or(Error::LimitExceeded(Limit::InstructionBytes))?;
            let first_row = self.raw.len();
            let ok = self.eval(section, bases, &fde, ctx, start, end, first_row)?;
            let rows = self.raw.len().saturating_sub(first_row);
            if !ok || rows == 0 {
                self.raw.truncate(first_row);
                self.stats.fdes_skipped = self.stats.fdes_skipped.saturating_add(1);
                continue;
            }
            self.fdes.push(FdeRef { start, end, first_row, rows });
        }
    }

    /// Appends the FDE's rows (strictly increasing PCs inside `[start, end)`). Returns
    /// `Ok(false)` when its instructions are corrupt.
    #[allow(clippy::too_many_arguments)]
    fn eval<'a, S: UnwindSection<Slice<'a>>>(
        &mut self,
        section: &S,
        bases: &BaseAddresses,
        fde: &FrameDescriptionEntry<Slice<'a>>,
        ctx: &mut UnwindContext<Slice<'a>, BoundedStore>,
        start: u64,
        end: u64,
        first_row: usize,
    ) -> Result<bool> {
        let signal = fde.is_signal_trampoline();
        let ra_register = fde.cie().return_address_register();
        {
            let mut previous: Option<Rule> = None;
            // PC of the last row pushed for this FDE.
            let mut last_pc: Option<u64> = None;
            let mut rows = match fde.rows(section, bases, ctx) {
                Ok(rows) => rows,
                Err(_) => return Ok(false),
            };
            loop {
                let row = match rows.next_row() {
                    Ok(Some(row)) => row,
                    Ok(None) => return Ok(true),
                    Err(_) => return Ok(false),
                };
                let pc = row.start_address();
                if pc >= row.end_address() || pc < start || pc >= end {
                    // Zero-length rows (advance_loc 0) are superseded by the next row; rows
                    // outside the FDE's range come from corrupt advances.
                    continue;
                }
                if last_pc.map_or(false, |l| pc <= l) {
                    return Ok(false);
                }
                if self.raw.len() >= self.limits.rows.saturating_mul(2) {
                    return Err(Error::LimitExceeded(Limit::Rows));
                }
                let rule = classify(row, signal, ra_register);
                if self.raw.len() > first_row && previous == Some(rule) {
                    // Same tracked rule as the row before (only untracked registers changed):
                    // the row would be merged away anyway.
                    continue;
                }
                previous = Some(rule);
                let id = self.intern(rule)?;
                self.raw.push(start, pc, id);
                last_pc = Some(pc);
            }
        }
    }
}

/// The final rows, written straight into the serialized table: merges consecutive rows with
/// the same rule, and lets a row replace the previous one when both start at the same PC.
/// `pcs` holds 8 bytes per row and `ids` 2, little-endian, for at most `pcs.len() / 8` rows.
struct Rows<'b> {
    pcs: &'b mut [u8],
    ids: &'b mut [u8],
    len: usize,
    limit: usize,
}

impl Rows<'_> {
    fn pc(&self, i: usize) -> Option<u64> {
        let at = i.checked_mul(8)?;
        let bytes = self.pcs.get(at..at.checked_add(8)?)?;
        Some(u64::from_le_bytes(bytes.try_into().ok()?))
    }

    fn id(&self, i: usize) -> Option<u16> {
        let at = i.checked_mul(2)?;
        let bytes = self.ids.get(at..at.checked_add(2)?)?;
        Some(u16::from_le_bytes(bytes.try_into().ok()?))
    }

    /// Writes row `i`'s PC (when given) and rule index; false when `i` is beyond the buffer.
    fn set(&mut self, i: usize, pc: Option<u64>, id: u16) -> bool {
        if let Some(pc) = pc {
            let dst = i.checked_mul(8).and_then(|at| self.pcs.get_mut(at..at.checked_add(8)?));
            match dst {
                Some(dst) => dst.copy_from_slice(&pc.to_le_bytes()),
                None => return false,
            }
        }
        let dst = i.checked_mul(2).and_then(|at| self.ids.get_mut(at..at.checked_add(2)?));
        match dst {
            Some(dst) => dst.copy_from_slice(&id.to_le_bytes()),
            None => return false,
        }
        true
    }

    fn emit(&mut self, pc: u64, id: u16) -> Result<()> {
        if let Some(last) = self.len.checked_sub(1) {
            if let (Some(last_pc), Some(last_id)) = (self.pc(last), self.id(last)) {
                if last_pc == pc {
                    self.set(last, None, id);
                    let previous = last.checked_sub(1).and_then(|i| self.id(i));
                    if previous == Some(id) {
                        self.len = last;
                    }
                    return Ok(());
                }
                if last_id == id {
                    return Ok(());
                }
            }
        }
        if self.len >= self.limit {
            return Err(Error::LimitExceeded(Limit::Rows));
        }
        // The buffer holds every row the FDEs can emit (see `serialize`): never full here.
        if !self.set(self.len, Some(pc), id) {
            return Err(Error::OutOfMemory);
        }
        self.len = self.len.saturating_add(1);
        Ok(())
    }
}

/// Builds the table from CFI sections with the default limits.
pub fn build_from_input(input: &CfiInput<'_>) -> Result<UnwindTable> {
    build_from_input_with(input, &Limits::default())
}

/// Builds the table from CFI sections.
pub fn build_from_input_with(input: &CfiInput<'_>, limits: &Limits) -> Result<UnwindTable> {
    build_with_go(input, None, limits)
}

impl Evaluator {
    /// Adds every Go function of `go` with rows from its `pcsp` table.
    fn go_functions(&mut self, go: &Pclntab<'_>, in_code: &dyn Fn(u64) -> bool) -> Result<()> {
        let mut rows: Vec<(u64, Rule)> = Vec::new();
        for i in 0..go.len() {
            let f = match go.func(i) {
                Ok(f) => f,
                Err(_) => {
                    self.stats.fdes_skipped = self.stats.fdes_skipped.saturating_add(1);
                    continue;
                }
            };
            if f.end <= f.entry {
                self.stats.fdes_empty = self.stats.fdes_empty.saturating_add(1);
                continue;
            }
            if !in_code(f.entry) {
                self.stats.fdes_outside_code = self.stats.fdes_outside_code.saturating_add(1);
                continue;
            }
            if self.fdes.len() >= self.limits.fdes {
                return Err(Error::LimitExceeded(Limit::Fdes));
            }
            rows.clear();
            if !function_rows(go, &f, &mut rows) {
                self.stats.fdes_skipped = self.stats.fdes_skipped.saturating_add(1);
                continue;
            }
            let first_row = self.raw.len();
            if first_row.saturating_add(rows.len()) > self.limits.rows.saturating_mul(2) {
                return Err(Error::LimitExceeded(Limit::Rows));
            }
            for &(pc, rule) in &rows {
                let id = self.intern(rule)?;
                self.raw.push(f.entry, pc, id);
            }
            self.fdes.push(FdeRef { start: f.entry, end: f.end, first_row, rows: rows.len() });
            self.stats.flags |= FLAG_GOPCLNTAB;
        }
        Ok(())
    }
}

/// Builds the table from CFI sections and, when given, a Go pclntab whose functions take
/// precedence over CFI entries overlapping them.
pub fn build_with_go(
    input: &CfiInput<'_>,
    go: Option<&Pclntab<'_>>,
    limits: &Limits,
) -> Result<UnwindTable> {
    let (bytes, rules) = build(input, go, limits)?;
    UnwindTable::from_serialized(&bytes, rules)
}

/// [`build_with_go`]'s table in its serialized form ([`UnwindTable::to_bytes`]), written as
/// it is built (what the ABI returns; no [`UnwindTable`] is made).
pub fn build_with_go_bytes(
    input: &CfiInput<'_>,
    go: Option<&Pclntab<'_>>,
    limits: &Limits,
) -> Result<Vec<u8>> {
    build(input, go, limits).map(|(bytes, _)| bytes)
}

/// The serialized table and its rules.
fn build(
    input: &CfiInput<'_>,
    go: Option<&Pclntab<'_>>,
    limits: &Limits,
) -> Result<(Vec<u8>, Vec<Rule>)> {
    let mut eh_frame = EhFrame::new(input.eh_frame, LittleEndian);
    // gimli defaults to the host's pointer size, which is 4 on wasm32: x86-64 needs 8.
    eh_frame.set_address_size(8);
    let eh_bases = BaseAddresses::default()
        .set_eh_frame(input.eh_frame_addr)
        .set_eh_frame_hdr(input.eh_frame_hdr_addr)
        .set_text(input.text_addr)
        .set_got(input.got_addr);
    let mut debug_frame = DebugFrame::new(input.debug_frame, LittleEndian);
    debug_frame.set_address_size(8);
    let debug_bases = BaseAddresses::default().set_text(input.text_addr);

    let mut ev = Evaluator {
        rules: Vec::new(),
        rule_ids: RuleIds::new(),
        last_rule: None,
        raw: RowStore::default(),
        fdes: Vec::new(),
        budget: limits.instruction_bytes,
        limits: *limits,
        stats: Stats { flags: input.flags, ..Stats::default() },
    };
    ev.intern(Rule::END_OF_FUNCTION)?;
    let mut ctx: Box<UnwindContext<Slice<'_>, BoundedStore>> = Box::new(UnwindContext::new_in());

    let code = &input.code_ranges;
    let in_code =
        |start: u64| code.is_empty() || code.iter().any(|&(lo, hi)| start >= lo && start < hi);
    if let Some(go) = go {
        ev.go_functions(go, &in_code)?;
    }
    // Go functions, sorted (the pclntab is in PC order): CFI entries overlapping them are
    // dropped (Go's own .debug_frame, or anything else describing Go code).
    let go_ranges: Vec<(u64, u64)> = ev.fdes.iter().map(|f| (f.start, f.end)).collect();
    let overlaps_go = |start: u64, end: u64| {
        let i = go_ranges.partition_point(|&(s, _)| s < end);
        i.checked_sub(1).and_then(|i| go_ranges.get(i)).map_or(false, |&(_, e)| e > start)
    };
    if !input.eh_frame.is_empty() {
        ev.section(&eh_frame, &eh_bases, CfiSection::EhFrame, &mut ctx, |start, end, stats| {
            if !in_code(start) {
                stats.fdes_outside_code = stats.fdes_outside_code.saturating_add(1);
                return false;
            }
            if overlaps_go(start, end) {
                stats.fdes_overlapping = stats.fdes_overlapping.saturating_add(1);
                return false;
            }
            true
        })?;
    }
    ev.fdes.sort_unstable_by_key(|f| (f.start, f.end));

    if !input.debug_frame.is_empty() {
        // Prefer .eh_frame: take a .debug_frame FDE only when no .eh_frame FDE overlaps it.
        // `reach[i]` is the largest end among the first i+1 (sorted) .eh_frame FDEs, so an
        // overlap with [start, end) exists iff the FDEs starting before `end` reach past
        // `start`.
        let eh: Vec<(u64, u64)> = ev.fdes.iter().map(|f| (f.start, f.end)).collect();
        let mut reach = Vec::with_capacity(eh.len());
        let mut running = 0u64;
        for &(_, end) in &eh {
            running = running.max(end);
            reach.push(running);
        }
        let eh_count = eh.len();
        let result = ev.section(
            &debug_frame,
            &debug_bases,
            CfiSection::DebugFrame,
            &mut ctx,
            |start, end, stats| {
                if !in_code(start) {
                    stats.fdes_outside_code = stats.fdes_outside_code.saturating_add(1);
                    return false;
                }
                let before_end = eh.partition_point(|&(s, _)| s < end);
                let overlaps = before_end
                    .checked_sub(1)
                    .and_then(|i| reach.get(i))
                    .map_or(false, |&r| r > start);
                if !overlaps {
                    stats.debug_frame_fdes_added = stats.debug_frame_fdes_added.saturating_add(1);
                }
                !overlaps
            },
        );
        if let Err(error) = result {
            if eh_count == 0 || matches!(error, Error::LimitExceeded(_)) {
                return Err(error);
            }
            ev.stats.flags |= FLAG_DEBUG_FRAME_CORRUPT;
        }
        ev.fdes.sort_unstable_by_key(|f| (f.start, f.end));
    }
    if ev.fdes.is_empty() {
        return Err(Error::NoUnwindInfo);
    }

    serialize(ev, limits)
}

/// The serialized table (layout in [`UnwindTable::to_bytes`]) of the evaluated FDEs, merged
/// into the result buffer directly: the rows never exist a second time in other vectors. The
/// buffer is sized for the most rows the FDEs can emit (their rows plus one end marker per
/// FDE), the rule indices written after that many PCs; once the real count is known they move
/// down behind the PCs and the buffer is shrunk in place, so the evaluator's rows and the
/// result are what is live at the peak.
fn serialize(mut ev: Evaluator, limits: &Limits) -> Result<(Vec<u8>, Vec<Rule>)> {
    // Rows emitted <= the FDEs' rows + one gap marker per FDE after the first + the end.
    let most = ev.raw.len().saturating_add(ev.fdes.len()).min(limits.rows);
    let scratch = Layout::new(ev.rules.len(), most)?;
    let pcs_offset = scratch.pcs_offset;
    let scratch_ids = scratch.indices_offset;

    let mut out = Vec::new();
    out.try_reserve_exact(scratch.total).map_err(|_| Error::OutOfMemory)?;
    out.resize(scratch.total, 0);
    let rows = {
        let (head, ids) = out.split_at_mut(scratch_ids);
        let pcs = head.get_mut(pcs_offset..).unwrap_or(&mut []);
        let mut rows = Rows { pcs, ids, len: 0, limit: limits.rows };
        let mut cursor: Option<u64> = None;
        for fde in &ev.fdes {
            if let Some(end) = cursor {
                if fde.start < end {
                    ev.stats.fdes_overlapping = ev.stats.fdes_overlapping.saturating_add(1);
                    continue;
                }
                if fde.start > end {
                    rows.emit(end, 0)?;
                }
            }
            ev.raw.for_each(fde.first_row, fde.rows, fde.start, |pc, id| rows.emit(pc, id))?;
            ev.stats.fdes_used = ev.stats.fdes_used.saturating_add(1);
            cursor = Some(fde.end);
        }
        if let Some(end) = cursor {
            rows.emit(end, 0)?;
        }
        rows.len
    };
    drop(ev.raw);
    drop(ev.fdes);

    let layout = Layout::new(ev.rules.len(), rows)?;
    let ids_size = rows.checked_mul(2).ok_or(Error::OutOfMemory)?;
    let ids_end = scratch_ids.checked_add(ids_size).ok_or(Error::OutOfMemory)?;
    if ids_end > out.len() || layout.pcs_offset != pcs_offset {
        return Err(Error::OutOfMemory);
    }
    out.copy_within(scratch_ids..ids_end, layout.indices_offset);
    out.truncate(layout.total);
    out.shrink_to_fit();
    write_header(&mut out, &layout, &ev.rules, &ev.stats)?;
    Ok((out, ev.rules))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::integer_arithmetic, clippy::indexing_slicing)]

    use super::{RowStore, BLOCK_ROWS, WIDE};

    /// The FDE start all rows of these tests are pushed with.
    const START: u64 = 0x1000;

    fn rows_of(store: &RowStore, first: usize, count: usize) -> Vec<(u64, u16)> {
        let mut out = Vec::new();
        store
            .for_each(first, count, START, |pc, id| {
                out.push((pc, id));
                Ok(())
            })
            .unwrap();
        out
    }

    /// Row `n`'s PC: mostly close to the start, and every 1,000th row 4 GiB or more past it,
    /// or exactly [`WIDE`] past it (the escape value itself), so wide rows sit in every block.
    fn pc_of(n: usize) -> u64 {
        match n % 1000 {
            999 => START + (1 << 32) + n as u64,
            998 => START + u64::from(WIDE),
            997 => START + u64::from(WIDE) - 1,
            _ => START + 3 * n as u64,
        }
    }

    /// The block store against a plain vector, across block boundaries, with truncations to
    /// inside a block, to a block's end and to nothing, with PCs near and far from the start.
    #[test]
    fn row_store_matches_a_vector_across_blocks() {
        let mut store = RowStore::default();
        let mut model: Vec<(u64, u16)> = Vec::new();
        let push = |store: &mut RowStore, model: &mut Vec<(u64, u16)>, n: usize| {
            for _ in 0..n {
                let pc = pc_of(model.len());
                let id = (model.len() % 7) as u16;
                store.push(START, pc, id);
                model.push((pc, id));
            }
        };
        push(&mut store, &mut model, 2 * BLOCK_ROWS + 5);
        assert_eq!(store.len(), model.len());
        assert_eq!(store.blocks.len(), 3);
        // Exactly the rows 4 GiB or more past the start took the wide path.
        let far = model.iter().filter(|r| r.0 - START >= u64::from(WIDE)).count();
        assert_eq!(store.wide.len(), far);
        assert!(far > 100);
        for (first, count) in [(0, 10), (BLOCK_ROWS - 3, 7), (5, 2 * BLOCK_ROWS), (0, usize::MAX)] {
            let end = (first + count.min(model.len())).min(model.len());
            assert_eq!(rows_of(&store, first, count), model[first..end].to_vec());
        }
        for len in [2 * BLOCK_ROWS + 1, 2 * BLOCK_ROWS, BLOCK_ROWS + 17, BLOCK_ROWS, 999, 998, 3, 0]
        {
            store.truncate(len);
            model.truncate(len);
            assert_eq!(store.len(), len);
            assert_eq!(store.blocks.len(), (len + BLOCK_ROWS - 1) / BLOCK_ROWS);
            assert!(store.wide.iter().all(|&(i, _)| i < len));
            assert_eq!(rows_of(&store, 0, usize::MAX), model);
            // Rows pushed after a truncation land where the model's do.
            push(&mut store, &mut model, BLOCK_ROWS + 1);
            assert_eq!(rows_of(&store, 0, usize::MAX), model);
            store.truncate(len);
            model.truncate(len);
        }
        assert!(store.blocks.is_empty());
        assert!(store.wide.is_empty());
    }
}
