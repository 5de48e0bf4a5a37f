// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

//! A class-independent view of an ELF file: the headers, sections, segments, notes and
//! dynamic entries that the rest of the crate needs, read once with `object`'s bounds-checked
//! parsers and flattened to plain `u64` fields.
//!
//! Optional parts (notes, the dynamic section, the interpreter path) that fail to parse are
//! recorded in [`ElfView::warnings`] instead of failing the whole file: a table can still be
//! built when a note is corrupt.

use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader, SectionHeader};
use object::read::StringTable;
use object::Endianness;

use crate::error::{Error, Result};

/// One section header, with its bytes when they are in the file.
#[derive(Debug, Clone, Copy)]
pub struct Section<'a> {
    /// Section name (from `.shstrtab`), empty when unreadable.
    pub name: &'a [u8],
    /// `sh_type`.
    pub sh_type: u32,
    /// `sh_flags`.
    pub flags: u64,
    /// `sh_addr`.
    pub addr: u64,
    /// `sh_offset`.
    pub offset: u64,
    /// `sh_size`.
    pub size: u64,
    /// `sh_addralign`.
    pub align: u64,
    /// The section's bytes; empty for `SHT_NOBITS` or when out of the file's bounds.
    pub data: &'a [u8],
    /// Whether `data` could be read (false for `SHT_NOBITS` and out-of-bounds sections).
    pub has_data: bool,
}

/// One program header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// `p_type`.
    pub p_type: u32,
    /// `p_flags` (`PF_X` = 1, `PF_W` = 2, `PF_R` = 4).
    pub flags: u32,
    /// `p_offset`.
    pub offset: u64,
    /// `p_vaddr`.
    pub vaddr: u64,
    /// `p_filesz`.
    pub filesz: u64,
    /// `p_memsz`.
    pub memsz: u64,
}

impl Segment {
    /// True for a `PT_LOAD` segment with `PF_X`.
    pub fn is_exec_load(&self) -> bool {
        self.p_type == elf::PT_LOAD && self.flags & elf::PF_X != 0
    }

    /// True when `addr` lies inside `[vaddr, vaddr + memsz)`.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.vaddr && addr.wrapping_sub(self.vaddr) < self.memsz
    }
}

/// One ELF note, from a `SHT_NOTE` section or a `PT_NOTE` segment.
#[derive(Debug, Clone, Copy)]
pub struct Note<'a> {
    /// The note name without its NUL terminator (e.g. `GNU`, `Go`).
    pub name: &'a [u8],
    /// `n_type`.
    pub n_type: u32,
    /// The descriptor bytes.
    pub desc: &'a [u8],
    /// Name of the section it came from, or empty when it came from a segment.
    pub section: &'a [u8],
}

/// The parsed view of an ELF file.
#[derive(Debug, Clone)]
pub struct ElfView<'a> {
    /// 32 or 64.
    pub class: u8,
    /// True for little-endian files.
    pub little_endian: bool,
    /// `e_type`.
    pub e_type: u16,
    /// `e_machine`.
    pub e_machine: u16,
    /// `e_entry`.
    pub entry: u64,
    /// Section headers in file order.
    pub sections: Vec<Section<'a>>,
    /// Program headers in file order.
    pub segments: Vec<Segment>,
    /// Notes from sections, then from segments (duplicates are kept).
    pub notes: Vec<Note<'a>>,
    /// `DT_NEEDED` names.
    pub needed: Vec<&'a [u8]>,
    /// Whether a dynamic section or `PT_DYNAMIC` segment exists.
    pub has_dynamic: bool,
    /// The `PT_INTERP` path without its NUL terminator.
    pub interp: Option<&'a [u8]>,
    /// Problems with optional parts that did not stop parsing.
    pub warnings: Vec<&'static str>,
}

impl<'a> ElfView<'a> {
    /// Parses `data` as an ELF file of either class and either byte order.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let ident = data.get(..16).ok_or(Error::InvalidElf("ELF header"))?;
        if ident.get(..4) != Some(&elf::ELFMAG[..]) {
            return Err(Error::InvalidElf("ELF magic"));
        }
        match ident.get(4).copied() {
            Some(elf::ELFCLASS64) => extract::<elf::FileHeader64<Endianness>>(data, 64),
            Some(elf::ELFCLASS32) => extract::<elf::FileHeader32<Endianness>>(data, 32),
            _ => Err(Error::InvalidElf("ELF class")),
        }
    }

    /// The first section with this exact name.
    pub fn section(&self, name: &[u8]) -> Option<&Section<'a>> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// Executable `PT_LOAD` segments.
    pub fn exec_segments(&self) -> impl Iterator<Item = &Segment> + '_ {
        self.segments.iter().filter(|s| s.is_exec_load())
    }
}

fn extract<Elf: FileHeader<Endian = Endianness>>(data: &[u8], class: u8) -> Result<ElfView<'_>> {
    let header = Elf::parse(data).map_err(|_| Error::InvalidElf("ELF header"))?;
    let endian = header.endian().map_err(|_| Error::InvalidElf("ELF byte order"))?;
    let mut view = ElfView {
        class,
        little_endian: endian == Endianness::Little,
        e_type: header.e_type(endian),
        e_machine: header.e_machine(endian),
        entry: header.e_entry(endian).into(),
        sections: Vec::new(),
        segments: Vec::new(),
        notes: Vec::new(),
        needed: Vec::new(),
        has_dynamic: false,
        interp: None,
        warnings: Vec::new(),
    };

    let table = header.sections(endian, data).map_err(|_| Error::InvalidElf("section headers"))?;
    let mut dynamic_from_section = false;
    for shdr in table.iter() {
        let name = table.section_name(endian, shdr).unwrap_or(&[]);
        let (bytes, has_data) = match shdr.data(endian, data) {
            Ok(bytes) => (bytes, shdr.sh_type(endian) != elf::SHT_NOBITS),
            Err(_) => {
                view.warnings.push("a section's data lies outside the file");
                (&[][..], false)
            }
        };
        view.sections.push(Section {
            name,
            sh_type: shdr.sh_type(endian),
            flags: shdr.sh_flags(endian).into(),
            addr: shdr.sh_addr(endian).into(),
            offset: shdr.sh_offset(endian).into(),
            size: shdr.sh_size(endian).into(),
            align: shdr.sh_addralign(endian).into(),
            data: bytes,
            has_data,
        });
        match shdr.notes(endian, data) {
            Ok(Some(mut notes)) => loop {
                match notes.next() {
                    Ok(Some(note)) => view.notes.push(Note {
                        name: note.name(),
                        n_type: note.n_type(endian),
                        desc: note.desc(),
                        section: name,
                    }),
                    Ok(None) => break,
                    Err(_) => {
                        view.warnings.push("corrupt note section");
                        break;
                    }
                }
            },
            Ok(None) => {}
            Err(_) => view.warnings.push("corrupt note section"),
        }
        if shdr.sh_type(endian) == elf::SHT_DYNAMIC {
            view.has_dynamic = true;
            dynamic_from_section = true;
            match shdr.dynamic(endian, data) {
                Ok(Some((entries, link))) => {
                    match table.strings(endian, data, link) {
                        Ok(strings) => collect_needed::<Elf>(&mut view, entries, endian, strings),
                        Err(_) => view.warnings.push("dynamic string table unreadable"),
                    };
                }
                Ok(None) => {}
                Err(_) => view.warnings.push("corrupt dynamic section"),
            }
        }
    }

    let phdrs =
        header.program_headers(endian, data).map_err(|_| Error::InvalidElf("program headers"))?;
    let mut dynamic_from_segment = None;
    for phdr in phdrs {
        let segment = Segment {
            p_type: phdr.p_type(endian),
            flags: phdr.p_flags(endian),
            offset: phdr.p_offset(endian).into(),
            vaddr: phdr.p_vaddr(endian).into(),
            filesz: phdr.p_filesz(endian).into(),
            memsz: phdr.p_memsz(endian).into(),
        };
        view.segments.push(segment);
        match segment.p_type {
            elf::PT_INTERP => match phdr.data(endian, data) {
                Ok(bytes) => view.interp = Some(until_nul(bytes)),
                Err(_) => view.warnings.push("PT_INTERP lies outside the file"),
            },
            elf::PT_NOTE => match phdr.notes(endian, data) {
                Ok(Some(mut notes)) => loop {
                    match notes.next() {
                        Ok(Some(note)) => view.notes.push(Note {
                            name: note.name(),
                            n_type: note.n_type(endian),
                            desc: note.desc(),
                            section: &[],
                        }),
                        Ok(None) => break,
                        Err(_) => {
                            view.warnings.push("corrupt note segment");
                            break;
                        }
                    }
                },
                Ok(None) => {}
                Err(_) => view.warnings.push("corrupt note segment"),
            },
            elf::PT_DYNAMIC => {
                view.has_dynamic = true;
                match phdr.dynamic(endian, data) {
                    Ok(entries) => dynamic_from_segment = entries,
                    Err(_) => view.warnings.push("corrupt PT_DYNAMIC segment"),
                }
            }
            _ => {}
        }
    }
    if let (false, Some(entries)) = (dynamic_from_section, dynamic_from_segment) {
        needed_from_segment::<Elf>(&mut view, entries, endian, data);
    }
    Ok(view)
}

fn collect_needed<'a, Elf: FileHeader<Endian = Endianness>>(
    view: &mut ElfView<'a>,
    entries: &[Elf::Dyn],
    endian: Endianness,
    strings: StringTable<'a>,
) {
    for entry in entries {
        match entry.tag32(endian) {
            Some(elf::DT_NULL) => break,
            Some(elf::DT_NEEDED) => match entry.string(endian, strings) {
                Ok(name) => view.needed.push(name),
                Err(_) => view.warnings.push("DT_NEEDED name unreadable"),
            },
            _ => {}
        }
    }
}

/// Reads `DT_NEEDED` through `PT_DYNAMIC` when there are no section headers (sstrip'ed files):
/// `DT_STRTAB` is a virtual address, mapped to a file offset through the `PT_LOAD` segments.
fn needed_from_segment<'a, Elf: FileHeader<Endian = Endianness>>(
    view: &mut ElfView<'a>,
    entries: &'a [Elf::Dyn],
    endian: Endianness,
    data: &'a [u8],
) {
    let mut strtab = None;
    let mut strsz = None;
    for entry in entries {
        match entry.tag32(endian) {
            Some(elf::DT_NULL) => break,
            Some(elf::DT_STRTAB) => strtab = Some(entry.d_val(endian).into()),
            Some(elf::DT_STRSZ) => strsz = Some(entry.d_val(endian).into()),
            _ => {}
        }
    }
    // No let-else: Debian's rustc is 1.63.
    let (addr, size): (u64, u64) = match (strtab, strsz) {
        (Some(addr), Some(size)) => (addr, size),
        _ => return,
    };
    let offset = view.segments.iter().find_map(|seg| {
        let delta = addr.checked_sub(seg.vaddr)?;
        if seg.p_type == elf::PT_LOAD && delta < seg.filesz {
            seg.offset.checked_add(delta)
        } else {
            None
        }
    });
    let start = match offset {
        Some(start) => start,
        None => {
            view.warnings.push("DT_STRTAB is not in a PT_LOAD segment");
            return;
        }
    };
    let end = match start.checked_add(size) {
        Some(end) => end,
        None => {
            view.warnings.push("DT_STRSZ overflows");
            return;
        }
    };
    collect_needed::<Elf>(view, entries, endian, StringTable::new(data, start, end));
}

fn until_nul(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(n) => bytes.get(..n).unwrap_or(bytes),
        None => bytes,
    }
}
