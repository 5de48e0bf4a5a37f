// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

//! Reader of Go's `.gopclntab`: functions by PC (entry, name, flags, funcID), the pc-value
//! tables (`pcsp`, `pcfile`, `pcln`, any `pcdata`), and the inline tree
//! (`FUNCDATA_InlTree` indexed by `PCDATA_InlTreeIndex`). It serves both the unwind-table
//! builder (SP deltas per PC) and symbolization (names, files, lines, inlined frames).
//!
//! Layouts of Go 1.16 and later, 64-bit little-endian files (x86-64, arm64):
//!
//! | magic        | Go        | differences                                                      |
//! | ------------ | --------- | ---------------------------------------------------------------- |
//! | `0xfffffffa` | 1.16–1.17 | absolute function entries; funcdata are pointers; 1.16 has no `flag` |
//! | `0xfffffff0` | 1.18–1.19 | entries are u32 offsets from the text start; funcdata u32 offsets from `go:func.*` |
//! | `0xfffffff1` | 1.20+     | `_func.startLine`; inlined calls carry a name and a parent PC only |
//!
//! Go 1.16 and 1.17 share a magic but not the `_func` layout (1.17 added the `flag` byte), so
//! the version string from `.go.buildinfo` decides. What the header does not hold (the text
//! start since Go 1.26, and the `go:func.*` base of Go 1.18+) is read from the runtime's
//! `moduledata`, found in `.go.module` (Go 1.26+) or by scanning the data segments for a
//! pointer to the pclntab that the next field confirms.
//!
//! Special functions are recognised by name ([`Special`]): funcID values were renumbered
//! between Go versions, names were not.
//!
//! Everything is bounds-checked: a corrupt table gives [`Error::InvalidGoPclntab`] or `None`,
//! never a panic, and every loop is bounded by its input's length.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use crate::elf::{ElfView, Segment};
use crate::error::{Error, Result};

/// `_func.flag` bit: the function is the outermost frame of its stack (`goexit`, `mstart`,
/// `rt0_go`). Go 1.17+.
pub const FLAG_TOP_FRAME: u8 = 1;
/// `_func.flag` bit: the function writes SP in a way `pcsp` cannot describe. Go 1.17+.
pub const FLAG_SP_WRITE: u8 = 2;
/// `_func.flag` bit: the function is written in assembly. Go 1.19+.
pub const FLAG_ASM: u8 = 4;

/// `PCDATA_InlTreeIndex`: the pcdata table giving the inline-tree index at each PC.
pub const PCDATA_INL_TREE_INDEX: u32 = 2;
/// `FUNCDATA_InlTree`: the funcdata slot holding the function's inline tree.
pub const FUNCDATA_INL_TREE: u32 = 3;

/// Longest chain of inlined calls followed at one PC (real ones are a few deep).
const MAX_INLINE_DEPTH: usize = 256;
/// Most functions accepted in one table (the largest real binaries have a few hundred thousand).
const MAX_FUNCS: u64 = 16 << 20;

/// The pclntab layout, from the header's magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layout {
    /// Go 1.16 and 1.17 (`0xfffffffa`).
    Go116,
    /// Go 1.18 and 1.19 (`0xfffffff0`).
    Go118,
    /// Go 1.20 and later (`0xfffffff1`).
    Go120,
}

impl Layout {
    fn from_magic(magic: u32) -> Option<Layout> {
        match magic {
            0xffff_fffa => Some(Layout::Go116),
            0xffff_fff0 => Some(Layout::Go118),
            0xffff_fff1 => Some(Layout::Go120),
            _ => None,
        }
    }
}

/// Runtime functions the unwinder treats specially, recognised by name (an `.abi0` suffix is
/// ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// `runtime.goexit`: the outermost frame of every goroutine.
    Goexit,
    /// `runtime.mstart`: the outermost frame of a thread's g0 stack.
    Mstart,
    /// `runtime.rt0_go`: the outermost Go frame of the main thread.
    Rt0Go,
    /// `runtime.systemstack`: switches to g0, keeping the goroutine's frame pointer in rbp.
    Systemstack,
    /// `runtime.mcall`: switches to g0 for good (rbp cleared); the g0 stack ends there.
    Mcall,
    /// `runtime.asmcgocall`: switches to g0 and calls C; the goroutine's SP is saved on g0.
    Asmcgocall,
    /// `runtime.morestack`: switches to g0 and never returns to its caller.
    Morestack,
    /// `runtime.cgocallback`: C calling Go; switches to the goroutine's stack.
    Cgocallback,
}

impl Special {
    /// The special kind of a function name, if any.
    pub fn of(name: &[u8]) -> Option<Special> {
        let base = name.strip_suffix(b".abi0").unwrap_or(name);
        Some(match base {
            b"runtime.goexit" => Special::Goexit,
            b"runtime.mstart" => Special::Mstart,
            b"runtime.rt0_go" => Special::Rt0Go,
            b"runtime.systemstack" => Special::Systemstack,
            b"runtime.mcall" => Special::Mcall,
            b"runtime.asmcgocall" => Special::Asmcgocall,
            b"runtime.morestack" => Special::Morestack,
            b"runtime.cgocallback" => Special::Cgocallback,
            _ => return None,
        })
    }
}

/// One function of the table (a `runtime._func`).
#[derive(Debug, Clone, Copy)]
pub struct Func<'a> {
    /// Index in the function table.
    pub index: usize,
    /// First byte of its code (ELF virtual address).
    pub entry: u64,
    /// One past its last byte (the next function's entry).
    pub end: u64,
    /// Its name, e.g. `main.main` or `runtime.systemstack.abi0`.
    pub name: &'a [u8],
    /// `_func.funcID` (version-specific numbering; see [`Special`] for a stable view).
    pub func_id: u8,
    /// `_func.flag` (`FLAG_*`; always 0 for Go 1.16).
    pub flag: u8,
    /// `_func.args`: bytes of arguments and results.
    pub args: i32,
    /// Line of the `func` keyword (Go 1.20+).
    pub start_line: Option<i32>,
    /// Offset of the SP-delta table in `pctab` (0: none).
    pub pcsp: u32,
    /// Offset of the file-index table in `pctab`.
    pub pcfile: u32,
    /// Offset of the line table in `pctab`.
    pub pcln: u32,
    /// Number of pcdata tables.
    pub npcdata: u32,
    /// Base index of its compilation unit in `cutab`.
    pub cu_offset: u32,
    /// Number of funcdata slots.
    pub nfuncdata: u8,
    /// Offset of the `_func` in the function data region.
    offset: usize,
}

impl Func<'_> {
    /// The version-independent special kind, if any.
    pub fn special(&self) -> Option<Special> {
        Special::of(self.name)
    }
}

/// One frame of a PC: a physical function or an inlined call in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Function name.
    pub function: &'a [u8],
    /// Source file, when the table has one for this PC.
    pub file: Option<&'a [u8]>,
    /// Source line (0 when unknown).
    pub line: i32,
    /// True for an inlined call, false for the physical function (the last frame).
    pub inlined: bool,
}

/// One segment of a pc-value table: `value` applies to `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcValue {
    /// First PC.
    pub start: u64,
    /// One past the last PC.
    pub end: u64,
    /// The value.
    pub value: i32,
}

/// Reads `buf.len()` bytes of the ELF file at a file offset into `buf`; returns how many were
/// read (fewer at the end of the file or on an error). How a build reads what its compact image
/// left out (see [`Pclntab::from_sparse_view`]).
pub type ReadFile<'a> = &'a dyn Fn(u64, &mut [u8]) -> usize;

/// Bytes read from the file at a time when a compact image lacks them (functions' code, read in
/// address order, so one window serves many functions).
pub const READ_WINDOW: usize = 256 << 10;
/// The longest single read from the file (a function's code; real ones are far shorter).
const MAX_FILE_READ: usize = 16 << 20;

/// What a sparse [`Memory`] reads from: the image's sections that hold their bytes, and the
/// file for the rest, through one bounded window.
#[derive(Clone)]
struct Sparse<'a> {
    /// (virtual address, bytes) of the image's allocated sections with data.
    sections: Vec<(u64, &'a [u8])>,
    read_file: ReadFile<'a>,
    /// (file offset, bytes) last read from the file.
    window: RefCell<(u64, Vec<u8>)>,
}

/// The virtual memory of the file's `PT_LOAD` segments, for data outside `.gopclntab`: `data`
/// is the whole file, or (`sparse`) a compact image whose program headers still give the
/// file's offsets.
#[derive(Clone)]
struct Memory<'a> {
    data: &'a [u8],
    segments: Vec<Segment>,
    sparse: Option<Sparse<'a>>,
}

impl fmt::Debug for Memory<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memory")
            .field("segments", &self.segments.len())
            .field("sparse", &self.sparse.is_some())
            .finish()
    }
}

impl<'a> Memory<'a> {
    /// `len` bytes at virtual address `addr`, when the file holds them.
    fn read(&self, addr: u64, len: usize) -> Option<Cow<'a, [u8]>> {
        let len64 = u64::try_from(len).ok()?;
        if let Some(sparse) = &self.sparse {
            for &(start, bytes) in &sparse.sections {
                let delta = match addr.checked_sub(start) {
                    Some(d) if d < bytes.len() as u64 => d,
                    _ => continue,
                };
                let at = usize::try_from(delta).ok()?;
                if let Some(b) = bytes.get(at..at.checked_add(len)?) {
                    return Some(Cow::Borrowed(b));
                }
            }
        }
        for s in &self.segments {
            if s.p_type != object::elf::PT_LOAD || addr < s.vaddr {
                continue;
            }
            let delta = addr.checked_sub(s.vaddr)?;
            if delta.checked_add(len64)? > s.filesz {
                continue;
            }
            let offset = s.offset.checked_add(delta)?;
            return match &self.sparse {
                Some(sparse) => sparse.read_file(offset, len).map(Cow::Owned),
                None => {
                    let start = usize::try_from(offset).ok()?;
                    self.data.get(start..start.checked_add(len)?).map(Cow::Borrowed)
                }
            };
        }
        None
    }

    fn u64_at(&self, addr: u64) -> Option<u64> {
        self.read(addr, 8).as_deref().and_then(le64)
    }
}

impl Sparse<'_> {
    /// `len` bytes at file offset `offset`, through the window (refilled from `offset` when it
    /// does not hold them; it grows to `len` for a longer read, at most [`MAX_FILE_READ`]).
    fn read_file(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        if len > MAX_FILE_READ {
            return None;
        }
        let mut window = self.window.try_borrow_mut().ok()?;
        let (start, bytes) = &mut *window;
        let end = offset.checked_add(u64::try_from(len).ok()?)?;
        let held = start.checked_add(bytes.len() as u64)?;
        if offset < *start || end > held {
            bytes.resize(len.max(READ_WINDOW), 0);
            let n = (self.read_file)(offset, bytes).min(bytes.len());
            bytes.truncate(n);
            *start = offset;
        }
        let at = usize::try_from(offset.checked_sub(*start)?).ok()?;
        bytes.get(at..at.checked_add(len)?).map(<[u8]>::to_vec)
    }
}

/// A parsed `.gopclntab` (see the module documentation).
#[derive(Debug, Clone)]
pub struct Pclntab<'a> {
    /// The layout (from the magic).
    pub layout: Layout,
    /// The Go version from `.go.buildinfo`, e.g. `go1.26.8`.
    pub go_version: Option<Cow<'a, [u8]>>,
    /// Instruction size quantum (1 on x86-64).
    pub quantum: u8,
    /// Base of the functions' entry offsets (Go 1.18+), or the first entry (Go 1.16).
    pub text_start: u64,
    /// Virtual address of the pclntab.
    pub addr: u64,
    /// Base address of `go:func.*` (Go 1.18+), where funcdata offsets point.
    pub gofunc: Option<u64>,
    nfunc: usize,
    nfiles: usize,
    /// `_func` has the `flag` byte (Go 1.17+).
    has_flag: bool,
    funcnametab: &'a [u8],
    cutab: &'a [u8],
    filetab: &'a [u8],
    pctab: &'a [u8],
    /// The function data region (`pclntable`): the functab, then the `_func`s.
    funcdata: &'a [u8],
    /// Offset of `funcdata` from the start of the pclntab.
    funcdata_offset: u64,
    mem: Memory<'a>,
}

fn le16(b: &[u8]) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(..2)?.try_into().ok()?))
}

fn le32(b: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(..4)?.try_into().ok()?))
}

fn le64(b: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(..8)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    le32(b.get(off..)?)
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    le64(b.get(off..)?)
}

/// The NUL-terminated string at `off`.
fn cstr(b: &[u8], off: usize) -> Option<&[u8]> {
    let rest = b.get(off..)?;
    let n = rest.iter().position(|&c| c == 0)?;
    rest.get(..n)
}

/// Reads a varint; advances `p`.
fn varint(p: &mut &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    let mut shift: u32 = 0;
    loop {
        let (&b, rest) = p.split_first()?;
        *p = rest;
        v |= u32::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(v);
        }
        shift = shift.checked_add(7)?;
        if shift >= 35 {
            return None;
        }
    }
}

const BUILDINFO_MAGIC: &[u8; 14] = b"\xff Go buildinf:";

/// The Go version string of `.go.buildinfo` (e.g. `go1.19.8`).
fn build_version<'a>(view: &ElfView<'a>, mem: &Memory<'a>) -> Option<Cow<'a, [u8]>> {
    let data = view.section(b".go.buildinfo").filter(|s| s.has_data).map(|s| s.data)?;
    if data.get(..14)? != BUILDINFO_MAGIC {
        return None;
    }
    let ptr_size = *data.get(14)?;
    let flags = *data.get(15)?;
    if flags & 2 != 0 {
        // Go 1.18+: varint-prefixed strings inline, from offset 32.
        let mut p = data.get(32..)?;
        let n = usize::try_from(varint(&mut p)?).ok()?;
        return p.get(..n).map(Cow::Borrowed);
    }
    if ptr_size != 8 || flags & 1 != 0 {
        return None; // 32-bit or big-endian
    }
    // Before Go 1.18: a pointer to a Go string header (data pointer, length).
    let header = u64_at(data, 16)?;
    let str_ptr = mem.u64_at(header)?;
    let len = usize::try_from(mem.u64_at(header.checked_add(8)?)?).ok()?;
    if len > 256 {
        return None;
    }
    mem.read(str_ptr, len)
}

/// Finds the pclntab's section.
fn locate_section<'a>(view: &ElfView<'a>) -> Option<(u64, &'a [u8])> {
    for name in [&b".gopclntab"[..], b".data.rel.ro.gopclntab"] {
        if let Some(s) = view.section(name).filter(|s| s.has_data && s.data.len() >= 64) {
            return Some((s.addr, s.data));
        }
    }
    None
}

/// Finds the pclntab: the section, else a scan of the read-only data segments for a header.
fn locate<'a>(view: &ElfView<'a>, data: &'a [u8]) -> Option<(u64, &'a [u8])> {
    if let Some(found) = locate_section(view) {
        return Some(found);
    }
    // Stripped of section headers: look for a header in non-executable file-backed segments.
    for seg in &view.segments {
        if seg.p_type != object::elf::PT_LOAD || seg.flags & object::elf::PF_X != 0 {
            continue;
        }
        let start = usize::try_from(seg.offset).ok()?;
        let len = usize::try_from(seg.filesz).ok()?;
        let bytes = data.get(start..start.checked_add(len)?)?;
        let mut off = 0usize;
        while let Some(window) = bytes.get(off..) {
            if window.len() < 64 {
                break;
            }
            let magic = le32(window).unwrap_or(0);
            if Layout::from_magic(magic).is_some()
                && window.get(4..8) == Some(&[0, 0, 1, 8][..])
                && header_offsets_plausible(window)
            {
                let addr = seg.vaddr.checked_add(u64::try_from(off).ok()?)?;
                return Some((addr, window));
            }
            off = off.checked_add(8)?;
        }
    }
    None
}

/// Whether a candidate header's region offsets increase and lie inside it.
fn header_offsets_plausible(h: &[u8]) -> bool {
    let layout = match le32(h).and_then(Layout::from_magic) {
        Some(l) => l,
        None => return false,
    };
    let first = if layout == Layout::Go116 { 24 } else { 32 };
    let mut previous = 0u64;
    for i in 0..5usize {
        let off = match i.checked_mul(8).and_then(|d| d.checked_add(first)) {
            Some(off) => off,
            None => return false,
        };
        match u64_at(h, off) {
            Some(v) if v >= previous && v < h.len() as u64 => previous = v,
            _ => return false,
        }
    }
    true
}

/// Finds `runtime.firstmoduledata`: the `.go.module` section (Go 1.26+), else a pointer to the
/// pclntab in the data sections whose next word points at the function-name table.
fn moduledata(view: &ElfView<'_>, addr: u64, funcnames: u64) -> Option<u64> {
    if let Some(s) = view.section(b".go.module").filter(|s| s.has_data) {
        if u64_at(s.data, 0) == Some(addr) {
            return Some(s.addr);
        }
    }
    let names = [&b".noptrdata"[..], b".data", b".data.rel.ro"];
    for name in names {
        let s = match view.section(name).filter(|s| s.has_data) {
            Some(s) => s,
            None => continue,
        };
        let mut off = 0usize;
        while let Some(w) = s.data.get(off..off.checked_add(16)?) {
            if le64(w) == Some(addr) && u64_at(w, 8) == Some(funcnames) {
                return s.addr.checked_add(u64::try_from(off).ok()?);
            }
            off = off.checked_add(8)?;
        }
    }
    None
}

impl<'a> Pclntab<'a> {
    /// Parses the pclntab of an ELF file; `Ok(None)` when the file is not a Go binary.
    pub fn parse(data: &'a [u8]) -> Result<Option<Pclntab<'a>>> {
        let view = ElfView::parse(data)?;
        Pclntab::from_view(&view, data)
    }

    /// Parses the pclntab of a parsed ELF file; `Ok(None)` when it has none.
    pub fn from_view(view: &ElfView<'a>, data: &'a [u8]) -> Result<Option<Pclntab<'a>>> {
        Pclntab::with_memory(view, Memory { data, segments: view.segments.clone(), sparse: None })
    }

    /// Parses the pclntab of a compact image of an ELF file (`view` over `data`): its section
    /// headers are the file's, but only some sections hold their bytes (`.gopclntab`, the data
    /// sections that hold `moduledata`, `.go.buildinfo`), and its program headers give the
    /// file's offsets. What the image lacks (functions' code, strings in `.rodata`) is read
    /// from the file through `read_file`, in a bounded window. `Ok(None)` when the image has no
    /// `.gopclntab` section (a compact image is never scanned for a stripped header).
    pub fn from_sparse_view(
        view: &ElfView<'a>,
        data: &'a [u8],
        read_file: ReadFile<'a>,
    ) -> Result<Option<Pclntab<'a>>> {
        let sections = view
            .sections
            .iter()
            .filter(|s| s.has_data && s.flags & u64::from(object::elf::SHF_ALLOC) != 0)
            .map(|s| (s.addr, s.data))
            .collect();
        let sparse = Sparse { sections, read_file, window: RefCell::new((0, Vec::new())) };
        let memory = Memory { data, segments: view.segments.clone(), sparse: Some(sparse) };
        Pclntab::with_memory(view, memory)
    }

    fn with_memory(view: &ElfView<'a>, mem: Memory<'a>) -> Result<Option<Pclntab<'a>>> {
        let found =
            if mem.sparse.is_some() { locate_section(view) } else { locate(view, mem.data) };
        let (addr, tab) = match found {
            Some(found) => found,
            None => return Ok(None),
        };
        let layout = le32(tab)
            .and_then(Layout::from_magic)
            .ok_or(Error::InvalidGoPclntab("header magic"))?;
        if tab.get(4..6) != Some(&[0, 0][..]) {
            return Err(Error::InvalidGoPclntab("header"));
        }
        let quantum = *tab.get(6).ok_or(Error::InvalidGoPclntab("header"))?;
        if *tab.get(7).ok_or(Error::InvalidGoPclntab("header"))? != 8 {
            return Err(Error::InvalidGoPclntab("pointer size (only 64-bit tables are read)"));
        }
        let word = |i: usize| -> Result<u64> {
            let off = i
                .checked_mul(8)
                .and_then(|o| o.checked_add(8))
                .ok_or(Error::InvalidGoPclntab("header"))?;
            u64_at(tab, off).ok_or(Error::InvalidGoPclntab("header"))
        };
        let nfunc = word(0)?;
        let nfiles = word(1)?;
        if nfunc > MAX_FUNCS || nfiles > MAX_FUNCS {
            return Err(Error::InvalidGoPclntab("function count"));
        }
        let (text_word, first) = match layout {
            Layout::Go116 => (None, 2),
            _ => (Some(word(2)?), 3),
        };
        let offsets = [
            word(first)?,
            word(first.wrapping_add(1))?,
            word(first.wrapping_add(2))?,
            word(first.wrapping_add(3))?,
            word(first.wrapping_add(4))?,
        ];
        let region = |i: usize| -> Result<&'a [u8]> {
            let start = usize::try_from(*offsets.get(i).ok_or(Error::InvalidGoPclntab("header"))?)
                .map_err(|_| Error::InvalidGoPclntab("region offset"))?;
            let end = match offsets.get(i.wrapping_add(1)) {
                Some(&e) => {
                    usize::try_from(e).map_err(|_| Error::InvalidGoPclntab("region offset"))?
                }
                None => tab.len(),
            };
            tab.get(start..end).ok_or(Error::InvalidGoPclntab("region offset"))
        };
        let funcnametab = region(0)?;
        let cutab = region(1)?;
        let filetab = region(2)?;
        let pctab = region(3)?;
        let funcdata = region(4)?;

        let go_version = build_version(view, &mem);
        // 1.16 and 1.17 share the magic; 1.16's _func has no flag byte.
        let has_flag = match layout {
            Layout::Go116 => !go_version.as_deref().map_or(false, |v| v.starts_with(b"go1.16")),
            _ => true,
        };
        let mut table = Pclntab {
            layout,
            go_version,
            quantum: quantum.max(1),
            text_start: 0,
            addr,
            gofunc: None,
            nfunc: usize::try_from(nfunc).map_err(|_| Error::InvalidGoPclntab("function count"))?,
            nfiles: usize::try_from(nfiles).map_err(|_| Error::InvalidGoPclntab("file count"))?,
            has_flag,
            funcnametab,
            cutab,
            filetab,
            pctab,
            funcdata,
            funcdata_offset: offsets[4],
            mem,
        };
        let field = table.field_size();
        let functab_len = table
            .nfunc
            .checked_mul(2)
            .and_then(|n| n.checked_add(1))
            .and_then(|n| n.checked_mul(field))
            .ok_or(Error::InvalidGoPclntab("function table"))?;
        if funcdata.len() < functab_len {
            return Err(Error::InvalidGoPclntab("function table"));
        }
        let md = moduledata(view, addr, addr.wrapping_add(offsets[0]));
        match layout {
            Layout::Go116 => {
                table.text_start =
                    u64_at(funcdata, 0).ok_or(Error::InvalidGoPclntab("function table"))?;
            }
            _ => {
                // Go 1.26 stopped storing the text start in the header: moduledata.text, then
                // the .text section (where the Go linker puts runtime.text).
                let from_md = md.and_then(|m| table.mem.u64_at(m.checked_add(176)?));
                let from_text = view.section(b".text").map(|s| s.addr);
                table.text_start = match text_word {
                    Some(t) if t != 0 => t,
                    _ => from_md.or(from_text).ok_or(Error::InvalidGoPclntab("text start"))?,
                };
                let gofunc_at = if layout == Layout::Go118 { 304 } else { 320 };
                table.gofunc = md
                    .and_then(|m| table.mem.u64_at(m.checked_add(gofunc_at)?))
                    .filter(|&g| table.mem.read(g, 1).is_some());
            }
        }
        Ok(Some(table))
    }

    fn field_size(&self) -> usize {
        if self.layout == Layout::Go116 {
            8
        } else {
            4
        }
    }

    /// Number of functions.
    pub fn len(&self) -> usize {
        self.nfunc
    }

    /// Whether the table has no function.
    pub fn is_empty(&self) -> bool {
        self.nfunc == 0
    }

    /// Number of entries in the file table.
    pub fn file_count(&self) -> usize {
        self.nfiles
    }

    /// Entry PC of functab slot `i` (slot `len()` is the end of the last function).
    fn functab_pc(&self, i: usize) -> Option<u64> {
        let field = self.field_size();
        let off = i.checked_mul(2)?.checked_mul(field)?;
        if field == 8 {
            u64_at(self.funcdata, off)
        } else {
            self.text_start.checked_add(u64::from(u32_at(self.funcdata, off)?))
        }
    }

    fn functab_funcoff(&self, i: usize) -> Option<usize> {
        let field = self.field_size();
        let off = i.checked_mul(2)?.checked_add(1)?.checked_mul(field)?;
        let v = if field == 8 {
            u64_at(self.funcdata, off)?
        } else {
            u64::from(u32_at(self.funcdata, off)?)
        };
        usize::try_from(v).ok()
    }

    /// Function `i` (0-based, in PC order).
    pub fn func(&self, i: usize) -> Result<Func<'a>> {
        if i >= self.nfunc {
            return Err(Error::InvalidGoPclntab("function index"));
        }
        let entry = self.functab_pc(i).ok_or(Error::InvalidGoPclntab("function table"))?;
        let end =
            self.functab_pc(i.wrapping_add(1)).ok_or(Error::InvalidGoPclntab("function table"))?;
        let offset = self.functab_funcoff(i).ok_or(Error::InvalidGoPclntab("function table"))?;
        let f = self.funcdata.get(offset..).ok_or(Error::InvalidGoPclntab("function record"))?;
        let u = |o: usize| u32_at(f, o).ok_or(Error::InvalidGoPclntab("function record"));
        let byte = |o: usize| f.get(o).copied().ok_or(Error::InvalidGoPclntab("function record"));
        // Field offsets after the entry: 8 bytes (1.16) or 4 (1.18+).
        let base: usize = if self.layout == Layout::Go116 { 8 } else { 4 };
        let at = |k: usize| base.wrapping_add(k.wrapping_mul(4));
        let func_entry = if self.layout == Layout::Go116 {
            u64_at(f, 0).ok_or(Error::InvalidGoPclntab("function record"))?
        } else {
            self.text_start
                .checked_add(u64::from(u(0)?))
                .ok_or(Error::InvalidGoPclntab("function record"))?
        };
        if func_entry != entry || end < entry {
            return Err(Error::InvalidGoPclntab("function entry"));
        }
        let name_off =
            usize::try_from(u(at(0))?).map_err(|_| Error::InvalidGoPclntab("function name"))?;
        let name =
            cstr(self.funcnametab, name_off).ok_or(Error::InvalidGoPclntab("function name"))?;
        let (start_line, tail) = match self.layout {
            Layout::Go120 => (Some(u(at(8))? as i32), at(9)),
            _ => (None, at(8)),
        };
        let func_id = byte(tail)?;
        let flag = if self.has_flag { byte(tail.wrapping_add(1))? } else { 0 };
        Ok(Func {
            index: i,
            entry,
            end,
            name,
            func_id,
            flag,
            args: u(at(1))? as i32,
            start_line,
            pcsp: u(at(3))?,
            pcfile: u(at(4))?,
            pcln: u(at(5))?,
            npcdata: u(at(6))?,
            cu_offset: u(at(7))?,
            nfuncdata: byte(tail.wrapping_add(3))?,
            offset,
        })
    }

    /// The function containing `pc`, if any.
    pub fn find_func(&self, pc: u64) -> Result<Option<Func<'a>>> {
        if self.nfunc == 0 {
            return Ok(None);
        }
        let first = self.functab_pc(0).ok_or(Error::InvalidGoPclntab("function table"))?;
        let last = self.functab_pc(self.nfunc).ok_or(Error::InvalidGoPclntab("function table"))?;
        if pc < first || pc >= last {
            return Ok(None);
        }
        // Last i with entry(i) <= pc.
        let (mut lo, mut hi) = (0usize, self.nfunc);
        while lo < hi {
            let mid = lo.wrapping_add(hi.wrapping_sub(lo) / 2);
            let e = self.functab_pc(mid).ok_or(Error::InvalidGoPclntab("function table"))?;
            if e <= pc {
                lo = mid.wrapping_add(1);
            } else {
                hi = mid;
            }
        }
        match lo.checked_sub(1) {
            Some(i) => self.func(i).map(Some),
            None => Ok(None),
        }
    }

    /// The segments of the pc-value table at `off` for a function starting at `entry`.
    pub fn pcvalues(&self, off: u32, entry: u64) -> PcValues<'a> {
        let data = usize::try_from(off).ok().and_then(|o| self.pctab.get(o..)).unwrap_or(&[]);
        PcValues {
            data: if off == 0 { &[] } else { data },
            pc: entry,
            entry,
            value: -1,
            quantum: u64::from(self.quantum),
            corrupt: false,
        }
    }

    /// The value of the pc-value table at `off` at `pc`; `None` past its end or when corrupt.
    pub fn pcvalue(&self, off: u32, entry: u64, pc: u64) -> Option<i32> {
        let mut it = self.pcvalues(off, entry);
        for seg in &mut it {
            if pc < seg.end {
                return if pc >= seg.start { Some(seg.value) } else { None };
            }
        }
        None
    }

    /// The pcdata table `index` of `f` (offset in `pctab`), if present.
    pub fn pcdata(&self, f: &Func<'a>, index: u32) -> Option<u32> {
        if index >= f.npcdata {
            return None;
        }
        let off =
            self.func_fixed_size().checked_add(usize::try_from(index).ok()?.checked_mul(4)?)?;
        let v = u32_at(self.funcdata.get(f.offset..)?, off)?;
        if v == 0 {
            None
        } else {
            Some(v)
        }
    }

    fn func_fixed_size(&self) -> usize {
        match self.layout {
            Layout::Go118 => 40,
            _ => 44,
        }
    }

    /// The virtual address of funcdata slot `index` of `f`, if present.
    pub fn funcdata_addr(&self, f: &Func<'a>, index: u32) -> Option<u64> {
        if index >= u32::from(f.nfuncdata) {
            return None;
        }
        let idx = usize::try_from(index).ok()?;
        let pcdata_end =
            self.func_fixed_size().checked_add(usize::try_from(f.npcdata).ok()?.checked_mul(4)?)?;
        let rec = self.funcdata.get(f.offset..)?;
        if self.layout == Layout::Go116 {
            // Pointers, aligned to 8 in memory (the region's address decides).
            let region_addr = self.addr.checked_add(self.funcdata_offset)?;
            let abs = region_addr
                .checked_add(u64::try_from(f.offset).ok()?)?
                .checked_add(u64::try_from(pcdata_end).ok()?)?;
            let pad = if abs & 4 != 0 { 4 } else { 0 };
            let off = pcdata_end.checked_add(pad)?.checked_add(idx.checked_mul(8)?)?;
            let p = u64_at(rec, off)?;
            return if p == 0 { None } else { Some(p) };
        }
        let off = pcdata_end.checked_add(idx.checked_mul(4)?)?;
        let v = u32_at(rec, off)?;
        if v == u32::MAX {
            return None;
        }
        self.gofunc?.checked_add(u64::from(v))
    }

    /// The source file with per-CU index `index` of the CU starting at `cu_offset`.
    fn cu_file(&self, cu_offset: u32, index: i32) -> Option<&'a [u8]> {
        let index = u32::try_from(index).ok()?;
        let slot = usize::try_from(cu_offset.checked_add(index)?).ok()?.checked_mul(4)?;
        let off = u32_at(self.cutab, slot)?;
        if off == u32::MAX {
            return None;
        }
        cstr(self.filetab, usize::try_from(off).ok()?)
    }

    /// File and line of `pc` in `f` (without inlining).
    pub fn file_line(&self, f: &Func<'a>, pc: u64) -> (Option<&'a [u8]>, i32) {
        let file =
            self.pcvalue(f.pcfile, f.entry, pc).and_then(|fno| self.cu_file(f.cu_offset, fno));
        let line = self.pcvalue(f.pcln, f.entry, pc).unwrap_or(0);
        (file, line.max(0))
    }

    /// The SP delta at `pc` in `f` (bytes pushed since entry, return address excluded).
    pub fn sp_delta(&self, f: &Func<'a>, pc: u64) -> Option<i32> {
        self.pcvalue(f.pcsp, f.entry, pc)
    }

    /// `len` bytes of the file at virtual address `addr` (e.g. a function's code), when the
    /// file holds them.
    pub fn code(&self, addr: u64, len: usize) -> Option<Cow<'a, [u8]>> {
        self.mem.read(addr, len)
    }

    /// The name at offset `off` of the function-name table.
    pub fn name_at(&self, off: i32) -> Option<&'a [u8]> {
        cstr(self.funcnametab, usize::try_from(off).ok()?)
    }

    /// The frames of `pc`, innermost first: inlined calls, then the physical function. Empty
    /// when no function contains `pc`.
    pub fn frames(&self, pc: u64, out: &mut Vec<Frame<'a>>) -> Result<()> {
        out.clear();
        let f = match self.find_func(pc)? {
            Some(f) => f,
            None => return Ok(()),
        };
        let tree = self.funcdata_addr(&f, FUNCDATA_INL_TREE);
        let index_table = self.pcdata(&f, PCDATA_INL_TREE_INDEX);
        let (mut file, mut line) = self.file_line(&f, pc);
        if let (Some(tree), Some(table)) = (tree, index_table) {
            let mut at = pc;
            let mut ix = self.pcvalue(table, f.entry, at).unwrap_or(-1);
            for _ in 0..MAX_INLINE_DEPTH {
                if ix < 0 {
                    break;
                }
                let call = match self.inlined_call(tree, ix) {
                    Some(call) => call,
                    None => break,
                };
                out.push(Frame {
                    function: self.name_at(call.name_off).unwrap_or(b"?"),
                    file,
                    line,
                    inlined: true,
                });
                match call.parent {
                    // Go 1.20+: the call site is a PC of the outer function.
                    InlineParent::Pc(parent_pc) => {
                        at = match f.entry.checked_add(u64::try_from(parent_pc).unwrap_or(0)) {
                            Some(a) => a,
                            None => break,
                        };
                        let (fl, ln) = self.file_line(&f, at);
                        file = fl;
                        line = ln;
                        ix = self.pcvalue(table, f.entry, at).unwrap_or(-1);
                    }
                    // Before: the call site's file and line, and the parent's index.
                    InlineParent::Index { parent, file: call_file, line: call_line } => {
                        file = self.cu_file(f.cu_offset, call_file);
                        line = call_line.max(0);
                        ix = i32::from(parent);
                    }
                }
            }
        }
        out.push(Frame { function: f.name, file, line, inlined: false });
        Ok(())
    }

    fn inlined_call(&self, tree: u64, ix: i32) -> Option<InlinedCall> {
        let ix = u64::try_from(ix).ok()?;
        if self.layout == Layout::Go120 {
            let b = &*self.mem.read(tree.checked_add(ix.checked_mul(16)?)?, 16)?;
            Some(InlinedCall {
                name_off: u32_at(b, 4)? as i32,
                parent: InlineParent::Pc(u32_at(b, 8)? as i32),
            })
        } else {
            let b = &*self.mem.read(tree.checked_add(ix.checked_mul(20)?)?, 20)?;
            Some(InlinedCall {
                name_off: u32_at(b, 12)? as i32,
                parent: InlineParent::Index {
                    parent: le16(b)? as i16,
                    file: u32_at(b, 4)? as i32,
                    line: u32_at(b, 8)? as i32,
                },
            })
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum InlineParent {
    Pc(i32),
    Index { parent: i16, file: i32, line: i32 },
}

#[derive(Debug, Clone, Copy)]
struct InlinedCall {
    name_off: i32,
    parent: InlineParent,
}

/// Iterator over the segments of a pc-value table (see [`Pclntab::pcvalues`]). Stops at the
/// table's end, or at the first corrupt byte ([`PcValues::corrupt`] then says so).
#[derive(Debug, Clone)]
pub struct PcValues<'a> {
    data: &'a [u8],
    pc: u64,
    entry: u64,
    value: i32,
    quantum: u64,
    corrupt: bool,
}

impl PcValues<'_> {
    /// Whether iteration stopped at corrupt data rather than at the table's end.
    pub fn corrupt(&self) -> bool {
        self.corrupt
    }
}

impl Iterator for PcValues<'_> {
    type Item = PcValue;

    fn next(&mut self) -> Option<PcValue> {
        if self.data.is_empty() {
            return None;
        }
        // As the runtime's step(): a zero value delta ends the table, except at the entry.
        let first = self.pc == self.entry;
        let mut p = self.data;
        let step = (|| {
            let uv = varint(&mut p)?;
            if uv == 0 && !first {
                return Some(None);
            }
            let half = uv.wrapping_shr(1);
            let delta = if uv & 1 != 0 { !half as i32 } else { half as i32 };
            let pcdelta = u64::from(varint(&mut p)?).checked_mul(self.quantum)?;
            Some(Some((delta, pcdelta)))
        })();
        match step {
            Some(Some((delta, pcdelta))) => {
                let start = self.pc;
                self.pc = match start.checked_add(pcdelta) {
                    Some(pc) => pc,
                    None => {
                        self.corrupt = true;
                        self.data = &[];
                        return None;
                    }
                };
                self.value = self.value.wrapping_add(delta);
                self.data = p;
                Some(PcValue { start, end: self.pc, value: self.value })
            }
            Some(None) => {
                self.data = &[];
                None
            }
            None => {
                self.corrupt = true;
                self.data = &[];
                None
            }
        }
    }
}

/// What [`describe`] reports.
pub const DESCRIBE_FRAMES: u32 = 0;
/// [`describe`] mode: every function (`pcs` ignored).
pub const DESCRIBE_FUNCS: u32 = 1;

/// A text report on the Go table of an ELF file, for tests and tools (the ABI's `go_describe`).
///
/// The first line is `layout <1.16|1.18|1.20> version <go version or -> text 0x… gofunc 0x…|-
/// funcs N`. Then, with [`DESCRIBE_FRAMES`], for each PC one line per frame, innermost first:
/// `0x<pc>\t<depth>\t<function>\t<file or ?>\t<line>\t<inlined 0|1>`, or `0x<pc>\t-` when no
/// function contains it; with [`DESCRIBE_FUNCS`], one line per function:
/// `0x<entry>\t0x<end>\t<name>\t<flag>\t<funcID>\t<special or ->`.
pub fn describe(data: &[u8], pcs: &[u64], mode: u32) -> Result<Vec<u8>> {
    use core::fmt::Write as _;
    let table =
        Pclntab::parse(data)?.ok_or(Error::InvalidGoPclntab("section (not a Go binary)"))?;
    let mut out = String::new();
    let layout = match table.layout {
        Layout::Go116 => "1.16",
        Layout::Go118 => "1.18",
        Layout::Go120 => "1.20",
    };
    let version = table.go_version.as_deref().map(String::from_utf8_lossy);
    let _ = write!(
        out,
        "layout {} version {} text {:#x} gofunc ",
        layout,
        version.as_deref().unwrap_or("-"),
        table.text_start
    );
    match table.gofunc {
        Some(g) => {
            let _ = write!(out, "{:#x}", g);
        }
        None => out.push('-'),
    }
    let _ = writeln!(out, " funcs {}", table.len());
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if mode == DESCRIBE_FUNCS {
        for i in 0..table.len() {
            let f = table.func(i)?;
            let special = f.special().map(|s| format!("{:?}", s));
            let _ = writeln!(
                out,
                "{:#x}\t{:#x}\t{}\t{}\t{}\t{}",
                f.entry,
                f.end,
                text(f.name),
                f.flag,
                f.func_id,
                special.as_deref().unwrap_or("-")
            );
        }
        return Ok(out.into_bytes());
    }
    let mut frames = Vec::new();
    for &pc in pcs {
        table.frames(pc, &mut frames)?;
        if frames.is_empty() {
            let _ = writeln!(out, "{:#x}\t-", pc);
        }
        for (depth, fr) in frames.iter().enumerate() {
            let _ = writeln!(
                out,
                "{:#x}\t{}\t{}\t{}\t{}\t{}",
                pc,
                depth,
                text(fr.function),
                fr.file.map(text).as_deref().unwrap_or("?"),
                fr.line,
                u8::from(fr.inlined)
            );
        }
    }
    Ok(out.into_bytes())
}
