// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

//! Native symbolization: function names from the ELF symbol tables (`.symtab`, `.dynsym`),
//! file, line and inline frames from DWARF (through `addr2line`), demangled for C++ and Rust.
//!
//! The input is a *section bundle* (below), not a whole file: the caller reads only the
//! sections a symbolizer needs from the binary and from its separate debug file (if any), so a
//! 100 MB library with a 50 KB `.dynsym` costs 50 KB. Sections are read in place from the
//! bundle, which the [`Symbolizer`] owns (DWARF sections compressed with `SHF_COMPRESSED` or
//! `.zdebug_` are inflated once, up to [`MAX_INFLATED_BYTES`] each).
//!
//! ```text
//! bundle  = "SYM1" u32 count section*            (little-endian)
//! section = u8 origin (0 binary, 1 debug file) u8 0 u16 name_len u32 sh_type u64 sh_flags
//!           u64 sh_addr u64 sh_size u64 data_len name[name_len] data[data_len]
//! ```
//!
//! A section with `data_len` 0 only describes where code lies (the executable sections'
//! addresses bound symbols of size 0). A Go binary's bundle carries the whole file as one entry
//! named [`WHOLE_FILE`]: its `.gopclntab` names functions, files, lines and inlined calls, and
//! reading the inline tree and the Go version needs the file's segments
//! ([`crate::gopclntab::Pclntab`]). Addresses given to [`Symbolizer::frames`] are ELF virtual
//! addresses (the caller removes the load bias).
//!
//! Lookups never fail: an address nothing names gives no frame. Corrupt DWARF is ignored
//! (symbols alone are used) and corrupt symbol entries are skipped; nothing here panics on any
//! input.

use std::borrow::Cow;
use std::io::Read;
use std::ops::{Deref, Range};
use std::rc::Rc;

use gimli::{EndianReader, RunTimeEndian, SectionId};

use crate::error::{Error, Result};
use crate::gopclntab::Pclntab;

/// Name of the bundle entry that holds a whole ELF file (a Go binary); no section has it.
pub const WHOLE_FILE: &[u8] = b"\0file";
/// Magic of a section bundle.
pub const BUNDLE_MAGIC: &[u8; 4] = b"SYM1";
/// Magic of a [`Symbolizer::encode_frames`] result.
pub const RESULT_MAGIC: &[u8; 4] = b"SYR1";
/// Largest inflated size of one compressed DWARF section.
pub const MAX_INFLATED_BYTES: u64 = 1 << 30;
/// More sections than this in a bundle is an error.
pub const MAX_BUNDLE_SECTIONS: u32 = 65536;
/// Symbols of size 0 (assembler labels) cover at most this many bytes after their address.
const MAX_UNSIZED_SYMBOL_SPAN: u64 = 1 << 20;
/// Frames reported for one address at most (inline depth).
pub const MAX_FRAMES: usize = 128;

const SHT_SYMTAB: u32 = 2;
const SHT_DYNSYM: u32 = 11;
const SHT_NOBITS: u32 = 8;
const SHF_EXECINSTR: u64 = 4;
const SHF_COMPRESSED: u64 = 0x800;
const ELFCOMPRESS_ZLIB: u32 = 1;
const STT_NOTYPE: u8 = 0;
const STT_FUNC: u8 = 2;
const STT_GNU_IFUNC: u8 = 10;
const STB_LOCAL: u8 = 0;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
const SHN_UNDEF: u16 = 0;
const SHN_LORESERVE: u16 = 0xff00;
const SYM_SIZE: usize = 24;

/// Bytes shared by every reader of one buffer (the bundle, or one inflated section).
///
/// `EndianReader` needs a cheaply clonable owner whose target never moves: an `Rc<Vec<u8>>`
/// is that (the vector's heap buffer stays put however the `Rc` is cloned), so sections are
/// read in place from the bundle with no copy.
#[derive(Debug, Clone)]
pub struct Bytes(Rc<Vec<u8>>);

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

// SAFETY: `Deref` returns the vector's heap buffer, which the `Rc` keeps alive and unmoved for
// as long as any clone exists; clones deref to the same buffer.
#[allow(unsafe_code)]
unsafe impl stable_deref_trait::StableDeref for Bytes {}
// SAFETY: see above; cloning an `Rc` does not move the buffer.
#[allow(unsafe_code)]
unsafe impl stable_deref_trait::CloneStableDeref for Bytes {}

/// The gimli reader over bundle bytes.
pub type Reader = EndianReader<RunTimeEndian, Bytes>;

/// One section of a bundle, as a range of the bundle's bytes.
#[derive(Debug, Clone)]
pub struct BundleSection {
    /// 0: the binary, 1: its separate debug file.
    pub origin: u8,
    /// Section name.
    pub name: Vec<u8>,
    /// `sh_type`.
    pub sh_type: u32,
    /// `sh_flags`.
    pub flags: u64,
    /// `sh_addr`.
    pub addr: u64,
    /// `sh_size` (of the original section).
    pub size: u64,
    /// Where its bytes lie in the bundle (empty: described only).
    pub data: Range<usize>,
}

struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).ok_or(Error::InvalidElf("symbol bundle"))?;
        let bytes = self.data.get(self.at..end).ok_or(Error::InvalidElf("symbol bundle"))?;
        self.at = end;
        Ok(bytes)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }
    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b.first().copied().unwrap_or(0), b.get(1).copied().unwrap_or(0)]))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(le_u32(self.take(4)?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(le_u64(self.take(8)?))
    }
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    u64::from_le_bytes(a)
}

/// Parses the section list of a bundle.
pub fn parse_bundle(bundle: &[u8]) -> Result<Vec<BundleSection>> {
    let mut c = Cursor { data: bundle, at: 0 };
    if c.take(4)? != BUNDLE_MAGIC {
        return Err(Error::InvalidElf("symbol bundle magic"));
    }
    let count = c.u32()?;
    if count > MAX_BUNDLE_SECTIONS {
        return Err(Error::InvalidElf("symbol bundle section count"));
    }
    let mut out = Vec::new();
    for _ in 0..count {
        let origin = c.u8()?;
        let _reserved = c.u8()?;
        let name_len = c.u16()?;
        let sh_type = c.u32()?;
        let flags = c.u64()?;
        let addr = c.u64()?;
        let size = c.u64()?;
        let data_len = usize::try_from(c.u64()?).map_err(|_| Error::InvalidElf("symbol bundle"))?;
        let name = c.take(usize::from(name_len))?.to_vec();
        let start = c.at;
        c.take(data_len)?;
        out.push(BundleSection { origin, name, sh_type, flags, addr, size, data: start..c.at });
    }
    Ok(out)
}

/// One frame of a symbolized address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The function name, demangled.
    pub name: String,
    /// The name as the object file has it (mangled), or the same as `name`.
    pub system_name: String,
    /// Source file, or empty.
    pub file: String,
    /// Source line, or 0.
    pub line: u32,
}

#[derive(Debug, Clone, Copy)]
struct Sym {
    addr: u64,
    size: u64,
    /// Index into `SymbolTable::strtabs`.
    table: u16,
    kind: u8,
    binding: u8,
    name: u32,
    name_len: u32,
}

impl Sym {
    /// Lower is better among symbols at one address: functions before labels, unversioned names
    /// before `name@VERSION`, fewer leading underscores (the public `getpid` over its internal
    /// alias `__getpid`), then global before weak before local.
    fn rank(&self, name: &[u8]) -> (u8, u8, u8, u8) {
        let kind = if self.kind == STT_NOTYPE { 1 } else { 0 };
        let binding = match self.binding {
            STB_GLOBAL => 0,
            STB_WEAK => 1,
            _ => 2,
        };
        let versioned = if name.contains(&b'@') { 1 } else { 0 };
        let underscores = name.iter().take_while(|&&c| c == b'_').count();
        (kind, versioned, u8::try_from(underscores).unwrap_or(u8::MAX), binding)
    }
}

/// Function symbols of `.symtab` and `.dynsym`, sorted by address.
#[derive(Debug, Default)]
pub struct SymbolTable {
    syms: Vec<Sym>,
    strtabs: Vec<Range<usize>>,
    exec: Vec<Range<u64>>,
    /// `.plt`, `.plt.sec` and `.plt.got`: stubs no symbol names.
    plt: Vec<Range<u64>>,
}

impl SymbolTable {
    fn name<'b>(&self, bundle: &'b [u8], s: &Sym) -> &'b [u8] {
        let table = match self.strtabs.get(usize::from(s.table)) {
            Some(t) => t.clone(),
            None => return &[],
        };
        let strtab = bundle.get(table).unwrap_or(&[]);
        let start = s.name as usize;
        let end = start.saturating_add(s.name_len as usize);
        strtab.get(start..end).unwrap_or(&[])
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.syms.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    fn in_exec(&self, addr: u64) -> Option<&Range<u64>> {
        self.exec.iter().find(|r| r.contains(&addr))
    }

    /// The best symbol containing `addr`: among the symbols starting closest below it, the best
    /// ranked one that contains it; a sized symbol contains `[addr, addr + size)`, an unsized
    /// one (an assembler label) reaches to the next symbol, the end of its code section and
    /// at most [`MAX_UNSIZED_SYMBOL_SPAN`] bytes. When none there does, a few lower starts are
    /// tried for a sized symbol that still contains it (nested symbols).
    fn lookup(&self, bundle: &[u8], addr: u64) -> Option<&Sym> {
        let after = self.syms.partition_point(|s| s.addr <= addr);
        let next_addr = self.syms.get(after).map(|s| s.addr);
        let top = self.syms.get(after.checked_sub(1)?)?.addr;
        let contains = |s: &Sym| {
            if s.size > 0 {
                addr.wrapping_sub(s.addr) < s.size
            } else {
                s.addr == top
                    && addr.wrapping_sub(s.addr) < MAX_UNSIZED_SYMBOL_SPAN
                    && next_addr.map_or(true, |n| addr < n)
                    && self.in_exec(s.addr).map_or(true, |r| r.contains(&addr))
            }
        };
        let mut best: Option<&Sym> = None;
        let mut best_rank = (u8::MAX, u8::MAX, u8::MAX, u8::MAX);
        for i in (0..after).rev().take(32) {
            let s = match self.syms.get(i) {
                Some(s) => s,
                None => break,
            };
            if let Some(b) = best {
                if s.addr != b.addr {
                    break;
                }
            }
            if !contains(s) {
                continue;
            }
            let rank = s.rank(self.name(bundle, s));
            if best.is_none() || rank < best_rank {
                best = Some(s);
                best_rank = rank;
            }
        }
        best
    }
}

fn parse_symbols(bundle: &[u8], sections: &[BundleSection]) -> SymbolTable {
    let mut table = SymbolTable::default();
    for s in sections {
        if s.name == b".plt" || s.name == b".plt.sec" || s.name == b".plt.got" {
            if let Some(end) = s.addr.checked_add(s.size) {
                table.plt.push(s.addr..end);
            }
        }
        if s.flags & SHF_EXECINSTR != 0 && s.size > 0 && s.origin == 0 {
            if let Some(end) = s.addr.checked_add(s.size) {
                table.exec.push(s.addr..end);
            }
        }
    }
    if table.exec.is_empty() {
        // A bundle from a debug file alone: its NOBITS .text still says where code is.
        for s in sections {
            if s.flags & SHF_EXECINSTR != 0 && s.size > 0 {
                if let Some(end) = s.addr.checked_add(s.size) {
                    table.exec.push(s.addr..end);
                }
            }
        }
    }
    // Per origin, .symtab first (it has the local functions), then .dynsym.
    let mut order: Vec<&BundleSection> =
        sections.iter().filter(|s| s.sh_type == SHT_SYMTAB || s.sh_type == SHT_DYNSYM).collect();
    order.sort_by_key(|s| (if s.sh_type == SHT_SYMTAB { 0 } else { 1 }, s.origin));
    for symtab in order {
        // The string table is the section the symbol table links to; bundles carry it under
        // the conventional name next to it (.strtab for .symtab, .dynstr for .dynsym).
        let strtab_name: &[u8] = if symtab.sh_type == SHT_SYMTAB { b".strtab" } else { b".dynstr" };
        let strtab =
            match sections.iter().find(|s| s.origin == symtab.origin && s.name == strtab_name) {
                Some(s) => s,
                None => continue,
            };
        if table.strtabs.len() >= usize::from(u16::MAX) {
            break;
        }
        let index = table.strtabs.len() as u16;
        table.strtabs.push(strtab.data.clone());
        let strings = bundle.get(strtab.data.clone()).unwrap_or(&[]);
        let bytes = bundle.get(symtab.data.clone()).unwrap_or(&[]);
        for entry in bytes.chunks_exact(SYM_SIZE) {
            let name = le_u32(entry.get(0..4).unwrap_or(&[]));
            let info = entry.get(4).copied().unwrap_or(0);
            let shndx = u16::from_le_bytes([
                entry.get(6).copied().unwrap_or(0),
                entry.get(7).copied().unwrap_or(0),
            ]);
            let value = le_u64(entry.get(8..16).unwrap_or(&[]));
            let size = le_u64(entry.get(16..24).unwrap_or(&[]));
            let kind = info & 0xf;
            let binding = info.wrapping_shr(4);
            if !(kind == STT_FUNC || kind == STT_GNU_IFUNC || kind == STT_NOTYPE) {
                continue;
            }
            if shndx == SHN_UNDEF || shndx >= SHN_LORESERVE || value == 0 {
                continue;
            }
            if !(binding == STB_LOCAL || binding == STB_GLOBAL || binding == STB_WEAK) {
                continue;
            }
            // Labels outside code (data markers) and compiler-local labels name nothing.
            if kind == STT_NOTYPE && table.in_exec(value).is_none() {
                continue;
            }
            let rest = match strings.get(name as usize..) {
                Some(r) => r,
                None => continue,
            };
            let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            if len == 0 || rest.starts_with(b".L") || rest.starts_with(b"$") {
                continue;
            }
            table.syms.push(Sym {
                addr: value,
                size,
                table: index,
                kind: if kind == STT_GNU_IFUNC { STT_FUNC } else { kind },
                binding,
                name,
                name_len: u32::try_from(len).unwrap_or(0),
            });
        }
    }
    table.syms.sort_by_key(|s| (s.addr, s.size));
    table
}

/// Demangles a C++ (Itanium) or Rust (legacy or v0) symbol; other names come back unchanged.
pub fn demangle(name: &str) -> Cow<'_, str> {
    // Strip symbol versions (`memcpy@@GLIBC_2.14`) before demangling.
    let bare = match name.find('@') {
        Some(i) if i > 0 => name.get(..i).unwrap_or(name),
        _ => name,
    };
    if let Ok(d) = rustc_demangle::try_demangle(bare) {
        return Cow::Owned(format!("{:#}", d));
    }
    if bare.starts_with("_Z") {
        if let Ok(sym) = cpp_demangle::Symbol::new(bare) {
            if let Ok(s) = sym.demangle(&cpp_demangle::DemangleOptions::default()) {
                return Cow::Owned(s);
            }
        }
    }
    Cow::Borrowed(bare)
}

/// A loaded file (binary and, if given, its debug file), ready to name addresses.
pub struct Symbolizer {
    bundle: Bytes,
    symbols: SymbolTable,
    /// Where a Go binary's whole file lies in the bundle (its `.gopclntab` is parsed per call).
    go_file: Option<Range<usize>>,
    dwarf: Option<addr2line::Context<Reader>>,
    /// Why the DWARF could not be used, if it exists but is broken.
    pub dwarf_error: Option<&'static str>,
}

impl core::fmt::Debug for Symbolizer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Symbolizer")
            .field("symbols", &self.symbols.len())
            .field("dwarf", &self.dwarf.is_some())
            .field("go", &self.go_file.is_some())
            .finish()
    }
}

fn inflate(section: &BundleSection, data: &[u8]) -> Option<Vec<u8>> {
    let (size, stream) = if section.flags & SHF_COMPRESSED != 0 {
        // Elf64_Chdr: u32 ch_type, u32 reserved, u64 ch_size, u64 ch_addralign.
        if le_u32(data.get(0..4)?) != ELFCOMPRESS_ZLIB {
            return None;
        }
        (le_u64(data.get(8..16)?), data.get(24..)?)
    } else if section.name.starts_with(b".zdebug_") {
        // "ZLIB" and the size as a big-endian u64.
        if data.get(0..4)? != b"ZLIB" {
            return None;
        }
        let mut size = [0u8; 8];
        size.copy_from_slice(data.get(4..12)?);
        (u64::from_be_bytes(size), data.get(12..)?)
    } else {
        return None;
    };
    if size > MAX_INFLATED_BYTES {
        return None;
    }
    let mut out = Vec::new();
    out.try_reserve_exact(usize::try_from(size).ok()?).ok()?;
    let mut decoder = flate2::read::ZlibDecoder::new(stream).take(size);
    decoder.read_to_end(&mut out).ok()?;
    if out.len() as u64 != size {
        return None;
    }
    Some(out)
}

impl Symbolizer {
    /// Loads a bundle (which the symbolizer keeps).
    ///
    /// # Errors
    /// [`Error::InvalidElf`] for a malformed bundle, [`Error::NoSymbols`] when it holds neither
    /// a function symbol nor DWARF line information.
    pub fn new(bundle: Vec<u8>) -> Result<Symbolizer> {
        let sections = parse_bundle(&bundle)?;
        let symbols = parse_symbols(&bundle, &sections);
        let bundle = Bytes(Rc::new(bundle));
        let (dwarf, dwarf_error) = load_dwarf(&bundle, &sections);
        // A Go binary: usable when its .gopclntab parses.
        let go_file = sections
            .iter()
            .find(|s| s.origin == 0 && s.name == WHOLE_FILE)
            .map(|s| s.data.clone())
            .filter(|r| {
                bundle.get(r.clone()).map_or(false, |f| matches!(Pclntab::parse(f), Ok(Some(_))))
            });
        if symbols.is_empty() && dwarf.is_none() && go_file.is_none() {
            return Err(Error::NoSymbols);
        }
        Ok(Symbolizer { bundle, symbols, go_file, dwarf, dwarf_error })
    }

    /// Number of function symbols.
    pub fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    /// Whether DWARF is in use.
    pub fn has_dwarf(&self) -> bool {
        self.dwarf.is_some()
    }

    /// Bytes of the bundle held.
    pub fn bundle_bytes(&self) -> usize {
        self.bundle.len()
    }

    fn symbol_frame(&self, addr: u64) -> Option<Frame> {
        let s = self.symbols.lookup(&self.bundle, addr)?;
        let raw = String::from_utf8_lossy(self.symbols.name(&self.bundle, s));
        Some(Frame {
            name: demangle(&raw).into_owned(),
            system_name: raw.into_owned(),
            file: String::new(),
            line: 0,
        })
    }

    /// Parses the Go binary's `.gopclntab` for one batch of lookups (it borrows the bundle, so
    /// it is not kept).
    fn pclntab(&self) -> Option<Pclntab<'_>> {
        let file = self.bundle.get(self.go_file.clone()?)?;
        Pclntab::parse(file).ok().flatten()
    }

    /// The frames at an ELF virtual address, innermost (inlined) first; empty when nothing
    /// names it.
    pub fn frames(&self, addr: u64, out: &mut Vec<Frame>) {
        let go = self.pclntab();
        self.frames_with(go.as_ref(), addr, out, &mut Vec::new());
    }

    fn frames_with<'p>(
        &self,
        go: Option<&Pclntab<'p>>,
        addr: u64,
        out: &mut Vec<Frame>,
        go_frames: &mut Vec<crate::gopclntab::Frame<'p>>,
    ) {
        out.clear();
        // Go: the pclntab names every function (inlined calls included), whatever was stripped.
        if let Some(tab) = go {
            if tab.frames(addr, go_frames).is_ok() && !go_frames.is_empty() {
                for f in go_frames.iter().take(MAX_FRAMES) {
                    let name = String::from_utf8_lossy(f.function).into_owned();
                    out.push(Frame {
                        system_name: name.clone(),
                        name,
                        file: f
                            .file
                            .map(|b| String::from_utf8_lossy(b).into_owned())
                            .unwrap_or_default(),
                        line: u32::try_from(f.line).unwrap_or(0),
                    });
                }
                return;
            }
        }
        if let Some(ctx) = &self.dwarf {
            if let Ok(mut iter) = ctx.find_frames(addr) {
                while let Ok(Some(frame)) = iter.next() {
                    if out.len() >= MAX_FRAMES {
                        break;
                    }
                    let (file, line) = match &frame.location {
                        Some(l) => (l.file.unwrap_or("").to_string(), l.line.unwrap_or(0)),
                        None => (String::new(), 0),
                    };
                    let raw = frame.function.as_ref().and_then(|f| f.raw_name().ok());
                    match raw {
                        Some(raw) => {
                            let lang = frame.function.as_ref().and_then(|f| f.language);
                            let name = match lang {
                                Some(lang) => addr2line::demangle(&raw, lang)
                                    .unwrap_or_else(|| demangle(&raw).into_owned()),
                                None => demangle(&raw).into_owned(),
                            };
                            out.push(Frame { name, system_name: raw.into_owned(), file, line });
                        }
                        // Line information without a function DIE: the symbol names it.
                        None => match self.symbol_frame(addr) {
                            Some(mut f) => {
                                f.file = file;
                                f.line = line;
                                out.push(f);
                            }
                            None if !file.is_empty() => out.push(Frame {
                                name: String::new(),
                                system_name: String::new(),
                                file,
                                line,
                            }),
                            None => {}
                        },
                    }
                }
            }
        }
        if out.iter().all(|f| f.name.is_empty()) {
            let located = out.first().map(|f| (f.file.clone(), f.line));
            out.clear();
            if let Some(mut f) = self.symbol_frame(addr) {
                if let Some((file, line)) = located {
                    f.file = file;
                    f.line = line;
                }
                out.push(f);
            } else if self.symbols.plt.iter().any(|r| r.contains(&addr)) {
                // A PLT stub: the call into another file's function, as perf shows `f@plt`.
                out.push(Frame {
                    name: "[plt]".to_string(),
                    system_name: "[plt]".to_string(),
                    file: String::new(),
                    line: 0,
                });
            }
        }
    }

    /// Symbolizes addresses into one buffer:
    ///
    /// ```text
    /// "SYR1" u32 string_count u32 address_count
    /// string*  = u32 len, UTF-8 bytes           (string 0 is "")
    /// address* = u16 frame_count, frame*        (innermost first; 0 frames = unknown)
    /// frame    = u32 name u32 system_name u32 file u32 line   (string indices)
    /// ```
    pub fn encode_frames(&self, addrs: &[u64]) -> Vec<u8> {
        let mut strings: Vec<String> = vec![String::new()];
        let mut index: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
        index.insert(String::new(), 0);
        let mut intern = |s: String| -> u32 {
            if let Some(&i) = index.get(&s) {
                return i;
            }
            let i = u32::try_from(strings.len()).unwrap_or(0);
            index.insert(s.clone(), i);
            strings.push(s);
            i
        };
        let mut body = Vec::with_capacity(addrs.len().saturating_mul(20));
        let mut frames = Vec::new();
        let go = self.pclntab();
        let mut go_frames = Vec::new();
        for &addr in addrs {
            self.frames_with(go.as_ref(), addr, &mut frames, &mut go_frames);
            let n = u16::try_from(frames.len()).unwrap_or(u16::MAX);
            body.extend_from_slice(&n.to_le_bytes());
            for f in frames.drain(..).take(usize::from(n)) {
                let system = if f.system_name == f.name { 0 } else { intern(f.system_name) };
                let name = intern(f.name);
                let system = if system == 0 { name } else { system };
                let file = intern(f.file);
                for v in [name, system, file, f.line] {
                    body.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        let mut out = Vec::with_capacity(body.len().saturating_add(12));
        out.extend_from_slice(RESULT_MAGIC);
        out.extend_from_slice(&u32::try_from(strings.len()).unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&u32::try_from(addrs.len()).unwrap_or(0).to_le_bytes());
        for s in &strings {
            out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(0).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        out.extend_from_slice(&body);
        out
    }
}

/// Builds the addr2line context from the bundle's DWARF: the debug file's sections when it has
/// `.debug_info`, else the binary's.
fn load_dwarf(
    bundle: &Bytes,
    sections: &[BundleSection],
) -> (Option<addr2line::Context<Reader>>, Option<&'static str>) {
    let has_info = |origin: u8| {
        sections.iter().any(|s| {
            s.origin == origin
                && (s.name == b".debug_info" || s.name == b".zdebug_info")
                && s.sh_type != SHT_NOBITS
                && !s.data.is_empty()
        })
    };
    let origin = if has_info(1) {
        1
    } else if has_info(0) {
        0
    } else {
        return (None, None);
    };
    let endian = RunTimeEndian::Little;
    let mut broken = None;
    let load = |id: SectionId| -> core::result::Result<Reader, gimli::Error> {
        let name = id.name().as_bytes();
        let zname: Vec<u8> =
            name.get(1..).map(|rest| [b".z".as_slice(), rest].concat()).unwrap_or_default();
        let found = sections.iter().find(|s| {
            s.origin == origin && s.sh_type != SHT_NOBITS && (s.name == name || s.name == zname)
        });
        let empty = || EndianReader::new(Bytes(Rc::new(Vec::new())), endian);
        let s = match found {
            Some(s) => s,
            None => return Ok(empty()),
        };
        if s.flags & SHF_COMPRESSED != 0 || s.name.starts_with(b".zdebug_") {
            let data = bundle.get(s.data.clone()).unwrap_or(&[]);
            return match inflate(s, data) {
                Some(v) => Ok(EndianReader::new(Bytes(Rc::new(v)), endian)),
                None => Err(gimli::Error::Io),
            };
        }
        if s.data.end > bundle.len() {
            return Ok(empty());
        }
        Ok(EndianReader::new(bundle.clone(), endian).range(s.data.clone()))
    };
    let dwarf = match gimli::Dwarf::load(load) {
        Ok(d) => d,
        Err(_) => {
            broken = Some("a DWARF section cannot be inflated");
            return (None, broken);
        }
    };
    match addr2line::Context::from_dwarf(dwarf) {
        Ok(ctx) => (Some(ctx), broken),
        Err(_) => (None, Some("DWARF is corrupt")),
    }
}

/// One section to write into a bundle.
#[derive(Debug, Clone, Copy)]
pub struct BundlePart<'a> {
    /// 0: the binary, 1: its separate debug file.
    pub origin: u8,
    /// Section name.
    pub name: &'a [u8],
    /// `sh_type`.
    pub sh_type: u32,
    /// `sh_flags`.
    pub flags: u64,
    /// `sh_addr`.
    pub addr: u64,
    /// `sh_size`.
    pub size: u64,
    /// The bytes carried (empty for a described-only section).
    pub data: &'a [u8],
}

/// Writes a bundle (the agent writes its own in TypeScript; this is for tests and tools).
pub fn write_bundle(parts: &[BundlePart<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(BUNDLE_MAGIC);
    out.extend_from_slice(&u32::try_from(parts.len()).unwrap_or(0).to_le_bytes());
    for p in parts {
        out.push(p.origin);
        out.push(0);
        out.extend_from_slice(&u16::try_from(p.name.len()).unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&p.sh_type.to_le_bytes());
        out.extend_from_slice(&p.flags.to_le_bytes());
        out.extend_from_slice(&p.addr.to_le_bytes());
        out.extend_from_slice(&p.size.to_le_bytes());
        out.extend_from_slice(&(p.data.len() as u64).to_le_bytes());
        out.extend_from_slice(p.name);
        out.extend_from_slice(p.data);
    }
    out
}

/// Whether a bundle carries a section: symbol and string tables, DWARF, and (described only)
/// the executable sections. A Go binary's `.gopclntab` travels in its [`WHOLE_FILE`] entry.
pub fn wanted_section(name: &[u8], sh_type: u32, flags: u64) -> bool {
    sh_type == SHT_SYMTAB
        || sh_type == SHT_DYNSYM
        || name == b".strtab"
        || name == b".dynstr"
        || name.starts_with(b".debug_")
        || name.starts_with(b".zdebug_")
        || flags & SHF_EXECINSTR != 0
}

/// Builds a bundle from whole ELF files (tests and tools; the agent reads only the sections
/// it needs). Executable sections are described without their bytes.
pub fn bundle_from_files(binary: &[u8], debug: Option<&[u8]>) -> Result<Vec<u8>> {
    let mut views = Vec::new();
    for (origin, data) in [(0u8, Some(binary)), (1u8, debug)] {
        if let Some(d) = data {
            views.push((origin, crate::elf::ElfView::parse(d)?));
        }
    }
    let mut parts = Vec::new();
    if let Some((_, view)) = views.first() {
        if view.section(b".gopclntab").is_some() {
            parts.push(BundlePart {
                origin: 0,
                name: WHOLE_FILE,
                sh_type: 0,
                flags: 0,
                addr: 0,
                size: binary.len() as u64,
                data: binary,
            });
        }
    }
    for (origin, view) in &views {
        for s in &view.sections {
            if !wanted_section(s.name, s.sh_type, s.flags) {
                continue;
            }
            let described_only = s.flags & SHF_EXECINSTR != 0 || !s.has_data;
            parts.push(BundlePart {
                origin: *origin,
                name: s.name,
                sh_type: s.sh_type,
                flags: s.flags,
                addr: s.addr,
                size: s.size,
                data: if described_only { &[] } else { s.data },
            });
        }
    }
    Ok(write_bundle(&parts))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::integer_arithmetic,
    clippy::panic
)]
mod tests {
    use super::*;
    use object::{Object, ObjectSymbol};

    const CXX: &str = r#"
namespace ns {
struct Work { static int run(int x); };
__attribute__((noinline)) int Work::run(int x) { volatile int s = 0; for (int i = 0; i < x; i++) s += i; return s; }
}
static inline __attribute__((always_inline)) int inlined_step(int x) {
  volatile int y = x; for (int i = 0; i < 100; i++) y += i * x; return y;
}
__attribute__((noinline)) int outer_fn(int x) { return inlined_step(x) + ns::Work::run(x); }
int main(int argc, char **) { return outer_fn(argc) & 1; }
"#;

    struct Built {
        dir: std::path::PathBuf,
    }
    impl Drop for Built {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
    impl Built {
        fn path(&self, name: &str) -> std::path::PathBuf {
            self.dir.join(name)
        }
        fn read(&self, name: &str) -> Vec<u8> {
            std::fs::read(self.path(name)).unwrap()
        }
    }

    fn run(cmd: &str, args: &[&std::ffi::OsStr]) -> bool {
        std::process::Command::new(cmd).args(args).status().map_or(false, |s| s.success())
    }

    /// Builds t (with DWARF), t.stripped + t.debug (objcopy --only-keep-debug, compressed).
    fn build(test: &str) -> Option<Built> {
        let dir = std::env::temp_dir().join(format!("symbolize-{}-{}", test, std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let b = Built { dir };
        std::fs::write(b.path("t.cc"), CXX).ok()?;
        let os = |p: &std::path::Path| p.as_os_str().to_owned();
        if !run(
            "g++",
            &[
                "-g".as_ref(),
                "-O2".as_ref(),
                "-o".as_ref(),
                &os(&b.path("t")),
                &os(&b.path("t.cc")),
            ],
        ) {
            return None;
        }
        let ok = run(
            "objcopy",
            &[
                "--only-keep-debug".as_ref(),
                "--compress-debug-sections=zlib".as_ref(),
                &os(&b.path("t")),
                &os(&b.path("t.debug")),
            ],
        ) && run("strip", &["-o".as_ref(), &os(&b.path("t.stripped")), &os(&b.path("t"))]);
        if !ok {
            return None;
        }
        Some(b)
    }

    fn symbol(file: &[u8], name: &str) -> (u64, u64) {
        let obj = object::File::parse(file).unwrap();
        let s = obj
            .symbols()
            .chain(obj.dynamic_symbols())
            .find(|s| {
                s.name() == Ok(name)
                    || s.name().map_or(false, |n| n.starts_with(&format!("{}@", name)))
            })
            .unwrap();
        (s.address(), s.size())
    }

    fn frames(s: &Symbolizer, addr: u64) -> Vec<Frame> {
        let mut out = Vec::new();
        s.frames(addr, &mut out);
        out
    }

    #[test]
    fn names_demangles_and_inlines_from_dwarf() {
        let b = match build("dwarf") {
            Some(b) => b,
            None => return eprintln!("no g++/objcopy: skipped"),
        };
        let bin = b.read("t");
        let s = Symbolizer::new(bundle_from_files(&bin, None).unwrap()).unwrap();
        assert!(s.has_dwarf());
        let (run_addr, _) = symbol(&bin, "_ZN2ns4Work3runEi");
        let f = frames(&s, run_addr + 2);
        assert_eq!(f.len(), 1, "{:?}", f);
        assert_eq!(f[0].name, "ns::Work::run(int)");
        assert_eq!(f[0].system_name, "_ZN2ns4Work3runEi");
        assert!(f[0].file.ends_with("t.cc"), "{:?}", f);
        assert_eq!(f[0].line, 4);
        // Some instruction of outer_fn is the inlined loop: two frames, the inlined one first,
        // the caller's line the call site.
        let (outer, size) = symbol(&bin, "_Z8outer_fni");
        let inlined = (outer..outer + size).map(|a| frames(&s, a)).find(|f| f.len() == 2);
        let inlined = inlined.expect("an address with an inline frame");
        assert_eq!(inlined[0].name, "inlined_step");
        assert_eq!(inlined[1].name, "outer_fn(int)");
        assert_eq!(inlined[1].line, 9);
        // Outside any function: nothing; in the PLT, "[plt]".
        assert!(frames(&s, 0x10).is_empty());
        let view = crate::elf::ElfView::parse(&bin).unwrap();
        if let Some(plt) = view.section(b".plt") {
            assert_eq!(frames(&s, plt.addr + 4)[0].name, "[plt]");
        }
    }

    #[test]
    fn separate_compressed_debug_file_and_symbols_only() {
        let b = match build("debugfile") {
            Some(b) => b,
            None => return eprintln!("no g++/objcopy: skipped"),
        };
        let bin = b.read("t");
        let stripped = b.read("t.stripped");
        let debug = b.read("t.debug");
        let (run_addr, _) = symbol(&bin, "_ZN2ns4Work3runEi");
        let s = Symbolizer::new(bundle_from_files(&stripped, Some(&debug)).unwrap()).unwrap();
        assert!(s.has_dwarf(), "{:?}", s.dwarf_error);
        let f = frames(&s, run_addr + 2);
        assert_eq!(f[0].name, "ns::Work::run(int)");
        assert_eq!(f[0].line, 4);
        // The stripped binary alone has no function symbol of its own (main is not dynamic).
        match Symbolizer::new(bundle_from_files(&stripped, None).unwrap()) {
            Err(Error::NoSymbols) => {}
            Ok(s) => assert!(frames(&s, run_addr + 2).is_empty()),
            Err(e) => panic!("{}", e),
        }
        // Symbols without DWARF: names, demangled, no lines.
        let no_dwarf: Vec<u8> = {
            assert!(run(
                "objcopy",
                &[
                    "--strip-debug".as_ref(),
                    b.path("t").as_os_str(),
                    b.path("t.nodwarf").as_os_str()
                ]
            ));
            b.read("t.nodwarf")
        };
        let s = Symbolizer::new(bundle_from_files(&no_dwarf, None).unwrap()).unwrap();
        assert!(!s.has_dwarf());
        let f = frames(&s, run_addr + 2);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].name, "ns::Work::run(int)");
        assert_eq!(f[0].line, 0);
        let (main, _) = symbol(&bin, "main");
        assert_eq!(frames(&s, main)[0].name, "main");
    }

    #[test]
    fn libc_with_its_debug_file() {
        let libc = match std::fs::read("/lib/x86_64-linux-gnu/libc.so.6") {
            Ok(l) => l,
            Err(_) => return,
        };
        let view = crate::elf::ElfView::parse(&libc).unwrap();
        let id = view
            .notes
            .iter()
            .find(|n| n.name == b"GNU" && n.n_type == 3)
            .map(|n| n.desc.iter().map(|b| format!("{:02x}", b)).collect::<String>())
            .unwrap();
        let dbg =
            std::fs::read(format!("/usr/lib/debug/.build-id/{}/{}.debug", &id[..2], &id[2..]));
        let plain = Symbolizer::new(bundle_from_files(&libc, None).unwrap()).unwrap();
        let (memcpy, _) = symbol(&libc, "getpid");
        assert_eq!(frames(&plain, memcpy)[0].name, "getpid");
        let dbg = match dbg {
            Ok(d) => d,
            Err(_) => return eprintln!("libc6-dbg not installed: debug part skipped"),
        };
        let (start_call_main, _) = symbol(&dbg, "__libc_start_call_main");
        let s = Symbolizer::new(bundle_from_files(&libc, Some(&dbg)).unwrap()).unwrap();
        let f = frames(&s, start_call_main + 0x30);
        assert_eq!(f.last().unwrap().name, "__libc_start_call_main", "{:?}", f);
        assert!(f.last().unwrap().line > 0);
        // Without the debug file, the address lies past every .dynsym symbol's end.
        assert!(frames(&plain, start_call_main + 0x30).iter().all(|f| f.name != "getpid"));
    }

    const GO: &str = r#"package main

import "os"

var sink int

//go:noinline
func leaf(n int) int { s := 0; for i := 0; i < n; i++ { s += i * i }; return s }

func inlinedStep(n int) int { return leaf(n) + 1 }

//go:noinline
func outer(n int) int { return inlinedStep(n) * 2 }

func main() { sink = outer(len(os.Args)) }
"#;

    #[test]
    fn names_go_functions_lines_and_inlined_calls_from_gopclntab() {
        let go = ["/usr/local/go/bin/go", "/usr/lib/go/bin/go", "/usr/bin/go"]
            .iter()
            .find(|p| std::path::Path::new(p).exists());
        let go = match go {
            Some(g) => g,
            None => return eprintln!("no go toolchain: skipped"),
        };
        let dir = std::env::temp_dir().join(format!("symbolize-go-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let _cleanup = Built { dir: dir.clone() };
        std::fs::write(dir.join("main.go"), GO).unwrap();
        std::fs::write(dir.join("go.mod"), "module example.com/m\ngo 1.20\n").unwrap();
        // -s -w: no symbol table, no DWARF; the pclntab alone must name everything.
        let ok = std::process::Command::new(go)
            .args(["build", "-ldflags=-s -w", "-o", "m", "."])
            .current_dir(&dir)
            .env("GOCACHE", dir.join("cache"))
            .env("GOPATH", dir.join("gopath"))
            .env("GOFLAGS", "-mod=mod")
            .env("GOTOOLCHAIN", "local")
            .status()
            .map_or(false, |s| s.success());
        if !ok {
            return eprintln!("go build failed: skipped");
        }
        let bin = std::fs::read(dir.join("m")).unwrap();
        let tab = Pclntab::parse(&bin).unwrap().unwrap();
        let s = Symbolizer::new(bundle_from_files(&bin, None).unwrap()).unwrap();
        assert!(!s.has_dwarf());
        let mut found_leaf = false;
        let mut found_inline = false;
        for i in 0..tab.len() {
            let f = tab.func(i).unwrap();
            let name = f.name;
            if name == b"main.leaf" {
                let fr = frames(&s, f.entry + 4);
                assert_eq!(fr.len(), 1);
                assert_eq!(fr[0].name, "main.leaf");
                assert!(fr[0].file.ends_with("main.go"), "{:?}", fr);
                assert_eq!(fr[0].line, 8);
                found_leaf = true;
            }
            if name == b"main.outer" {
                // Somewhere in outer, inlinedStep is inlined: its own frame, innermost first.
                found_inline = (f.entry..f.end).any(|pc| {
                    let fr = frames(&s, pc);
                    fr.len() == 2 && fr[0].name == "main.inlinedStep" && fr[1].name == "main.outer"
                });
            }
        }
        assert!(found_leaf && found_inline, "leaf {} inline {}", found_leaf, found_inline);
    }

    #[test]
    fn demangles_rust_and_cpp_and_keeps_c() {
        assert_eq!(demangle("_ZN4core3fmt5write17h0123456789abcdefE"), "core::fmt::write");
        assert_eq!(
            demangle("_ZNSt6vectorIiSaIiEE9push_backERKi"),
            "std::vector<int, std::allocator<int> >::push_back(int const&)"
        );
        assert_eq!(demangle("_RNvCs1234_7mycrate3foo"), "mycrate::foo");
        assert_eq!(demangle("memcpy@@GLIBC_2.14"), "memcpy");
        assert_eq!(demangle("main"), "main");
        assert_eq!(demangle("_Zgarbage"), "_Zgarbage");
    }

    #[test]
    fn encodes_frames() {
        let b = match build("encode") {
            Some(b) => b,
            None => return,
        };
        let bin = b.read("t");
        let s = Symbolizer::new(bundle_from_files(&bin, None).unwrap()).unwrap();
        let (main, _) = symbol(&bin, "main");
        let out = s.encode_frames(&[main, 0x10]);
        assert_eq!(&out[..4], RESULT_MAGIC);
        let strings = le_u32(&out[4..8]) as usize;
        assert_eq!(le_u32(&out[8..12]), 2);
        let mut at = 12;
        let mut table = Vec::new();
        for _ in 0..strings {
            let n = le_u32(&out[at..at + 4]) as usize;
            table.push(String::from_utf8(out[at + 4..at + 4 + n].to_vec()).unwrap());
            at += 4 + n;
        }
        assert_eq!(table[0], "");
        let n = u16::from_le_bytes([out[at], out[at + 1]]);
        assert_eq!(n, 1);
        assert_eq!(table[le_u32(&out[at + 2..at + 6]) as usize], "main");
        at += 2 + 16;
        assert_eq!(u16::from_le_bytes([out[at], out[at + 1]]), 0);
        assert_eq!(at + 2, out.len());
    }

    #[test]
    fn corrupt_bundles_never_panic() {
        let b = match build("corrupt") {
            Some(b) => b,
            None => return,
        };
        let bin = b.read("t");
        let (main, _) = symbol(&bin, "main");
        let bundle = bundle_from_files(&bin, None).unwrap();
        for cut in (0..bundle.len()).step_by(97) {
            if let Ok(s) = Symbolizer::new(bundle[..cut].to_vec()) {
                let _ = s.encode_frames(&[main]);
            }
        }
        let mut seed = 0x2545f4914f6cdd1du64;
        for _ in 0..300 {
            let mut m = bundle.clone();
            for _ in 0..8 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed % m.len() as u64) as usize;
                m[i] ^= (seed >> 32) as u8 | 1;
            }
            if let Ok(s) = Symbolizer::new(m) {
                let _ = s.encode_frames(&[main, main + 1, 0x1000]);
            }
        }
    }
}
