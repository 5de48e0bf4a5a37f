// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

//! Debuginfo stripping for upload (`--debuginfo-strip`, `--debuginfo-compress`): a new ELF64
//! little-endian file that keeps what a symbolizer needs and drops the rest.
//!
//! - Every section header stays, with its index, name, address, size, flags, link and info.
//! - Sections kept **with their contents**: `.debug_*`, `.zdebug_*`, `__debug_*`;
//!   `SHT_SYMTAB`, `SHT_DYNSYM`, `SHT_STRTAB` (`.shstrtab` included), `SHT_REL`, `SHT_RELA`,
//!   `SHT_NOTE`; by name `.symtab .dynsym .strtab .dynstr .gosymtab .gopclntab .go.buildinfo
//!   .plt .plt.got .plt.sec .rela.plt .rela.dyn .comment`.
//! - Every other section (`.text`, `.rodata`, `.data`, `.eh_frame`, ...) becomes `SHT_NOBITS`
//!   with no bytes in the file (address, size and flags unchanged), as Parca Agent's
//!   `--debuginfo-strip` and `objcopy --only-keep-debug` do.
//! - Program headers are copied unchanged, `p_offset` and `p_filesz` included: the server
//!   normalizes addresses with the `PT_LOAD` vaddrs and offsets of the original file, and
//!   rewriting them to the new layout would describe a file that never ran. Their file ranges
//!   may therefore cover other bytes than in the original (or lie past the end); nothing that
//!   reads debuginfo reads segment contents (`objcopy --only-keep-debug` output has the same
//!   property).
//! - Layout: ELF header, program headers, the kept sections in section-index order (each at its
//!   alignment, capped at 4 KiB), then the section header table.
//! - With [`STRIP_COMPRESS`], each `.debug_*` section not already `SHF_COMPRESSED` is written
//!   zlib-compressed behind an `Elf64_Chdr` (`ELFCOMPRESS_ZLIB`, the uncompressed size and
//!   alignment) with `SHF_COMPRESSED` set and `sh_addralign` 8, when that is smaller.

use std::io::Write;

use object::elf;
use object::read::elf::{FileHeader, SectionHeader};
use object::LittleEndian;

use crate::error::{Error, Result};

/// Flag bit of [`strip_debuginfo`]: zlib-compress DWARF sections (`--debuginfo-compress`).
pub const STRIP_COMPRESS: u32 = 1;
/// Flag bit of [`strip_debuginfo`]: keep every section's contents (compression only, for
/// `--no-debuginfo-strip --debuginfo-compress` and for separate debug files).
pub const STRIP_KEEP_ALL: u32 = 2;

/// Size of `Elf64_Ehdr`.
const EHDR_SIZE: usize = 64;
/// Size of `Elf64_Shdr`.
const SHDR_SIZE: usize = 64;
/// Size of `Elf64_Chdr`.
const CHDR_SIZE: usize = 24;
/// Largest section alignment honoured in the output (a hostile `sh_addralign` must not create
/// gigabytes of padding).
const MAX_ALIGN: u64 = 4096;

/// Names of non-DWARF sections kept with their contents.
const KEPT_NAMES: &[&[u8]] = &[
    b".symtab",
    b".dynsym",
    b".strtab",
    b".dynstr",
    b".gosymtab",
    b".gopclntab",
    b".go.buildinfo",
    b".plt",
    b".plt.got",
    b".plt.sec",
    b".rela.plt",
    b".rela.dyn",
    b".comment",
];

fn is_dwarf(name: &[u8]) -> bool {
    name.starts_with(b".debug_") || name.starts_with(b".zdebug_") || name.starts_with(b"__debug_")
}

/// Whether a section keeps its contents in the stripped file.
pub fn keeps_contents(name: &[u8], sh_type: u32) -> bool {
    matches!(
        sh_type,
        elf::SHT_SYMTAB
            | elf::SHT_DYNSYM
            | elf::SHT_STRTAB
            | elf::SHT_REL
            | elf::SHT_RELA
            | elf::SHT_NOTE
    ) || is_dwarf(name)
        || KEPT_NAMES.contains(&name)
}

/// One output section header (the `Elf64_Shdr` fields).
struct Shdr {
    name: u32,
    sh_type: u32,
    flags: u64,
    addr: u64,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
    align: u64,
    entsize: u64,
}

impl Shdr {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.name.to_le_bytes());
        out.extend_from_slice(&self.sh_type.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&self.addr.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.link.to_le_bytes());
        out.extend_from_slice(&self.info.to_le_bytes());
        out.extend_from_slice(&self.align.to_le_bytes());
        out.extend_from_slice(&self.entsize.to_le_bytes());
    }
}

/// Pads `out` with zeros to a multiple of `align` (1 when 0; capped at [`MAX_ALIGN`]).
fn pad_to(out: &mut Vec<u8>, align: u64) -> Result<()> {
    let align = align.clamp(1, MAX_ALIGN);
    let len = u64::try_from(out.len()).map_err(|_| Error::OutOfMemory)?;
    let rem = len.checked_rem(align).unwrap_or(0);
    if rem != 0 {
        let pad = usize::try_from(align.saturating_sub(rem)).map_err(|_| Error::OutOfMemory)?;
        let new_len = out.len().checked_add(pad).ok_or(Error::OutOfMemory)?;
        out.resize(new_len, 0);
    }
    Ok(())
}

fn offset_of(out: &[u8]) -> Result<u64> {
    u64::try_from(out.len()).map_err(|_| Error::OutOfMemory)
}

/// zlib-compresses `data` behind an `Elf64_Chdr`; `None` when that is not smaller.
fn compress_section(data: &[u8], align: u64) -> Result<Option<Vec<u8>>> {
    let capacity = data.len().checked_div(4).unwrap_or(0).saturating_add(CHDR_SIZE);
    let mut chdr = Vec::with_capacity(capacity);
    chdr.extend_from_slice(&elf::ELFCOMPRESS_ZLIB.to_le_bytes());
    chdr.extend_from_slice(&0u32.to_le_bytes());
    chdr.extend_from_slice(
        &u64::try_from(data.len()).map_err(|_| Error::OutOfMemory)?.to_le_bytes(),
    );
    chdr.extend_from_slice(&align.to_le_bytes());
    let mut encoder = flate2::write::ZlibEncoder::new(chdr, flate2::Compression::default());
    // Writing into a Vec cannot fail except by running out of memory.
    encoder.write_all(data).map_err(|_| Error::OutOfMemory)?;
    let out = encoder.finish().map_err(|_| Error::OutOfMemory)?;
    Ok(if out.len() < data.len() { Some(out) } else { None })
}

/// Strips an ELF64 little-endian file for upload; `flags` bit 0 ([`STRIP_COMPRESS`])
/// compresses DWARF sections, bit 1 ([`STRIP_KEEP_ALL`]) keeps every section's contents. See
/// the module documentation for what is kept.
///
/// # Errors
/// [`Error::InvalidElf`] when the file is not a readable ELF64 little-endian file with section
/// headers, or a kept section lies outside the file; [`Error::OutOfMemory`] when the output
/// cannot be allocated.
pub fn strip_debuginfo(data: &[u8], flags: u32) -> Result<Vec<u8>> {
    let compress = flags & STRIP_COMPRESS != 0;
    let keep_all = flags & STRIP_KEEP_ALL != 0;
    let header = elf::FileHeader64::<LittleEndian>::parse(data)
        .map_err(|_| Error::InvalidElf("ELF64 little-endian header"))?;
    let endian = header.endian().map_err(|_| Error::InvalidElf("ELF64 little-endian header"))?;
    let table = header.sections(endian, data).map_err(|_| Error::InvalidElf("section headers"))?;
    if table.is_empty() {
        return Err(Error::InvalidElf("section headers (there are none)"));
    }
    let shstrndx = header.shstrndx(endian, data).map_err(|_| Error::InvalidElf("e_shstrndx"))?;
    let phdrs =
        header.program_headers(endian, data).map_err(|_| Error::InvalidElf("program headers"))?;
    let ph_bytes = core::mem::size_of_val(phdrs);
    let ph_start = usize::try_from(header.e_phoff.get(endian))
        .map_err(|_| Error::InvalidElf("program headers"))?;
    let ph_raw = if ph_bytes == 0 {
        &[][..]
    } else {
        ph_start
            .checked_add(ph_bytes)
            .and_then(|end| data.get(ph_start..end))
            .ok_or(Error::InvalidElf("program headers"))?
    };
    let ehdr = data.get(..EHDR_SIZE).ok_or(Error::InvalidElf("ELF header"))?;

    let mut out = Vec::new();
    out.try_reserve(data.len().min(0x10_0000)).map_err(|_| Error::OutOfMemory)?;
    out.extend_from_slice(ehdr);
    pad_to(&mut out, 8)?;
    let phoff = if ph_raw.is_empty() { 0 } else { offset_of(&out)? };
    out.extend_from_slice(ph_raw);

    let mut headers = Vec::with_capacity(table.len());
    for (index, shdr) in table.iter().enumerate() {
        let name = table.section_name(endian, shdr).unwrap_or(&[]);
        let mut h = Shdr {
            name: shdr.sh_name(endian),
            sh_type: shdr.sh_type(endian),
            flags: shdr.sh_flags(endian),
            addr: shdr.sh_addr(endian),
            offset: shdr.sh_offset(endian),
            size: shdr.sh_size(endian),
            link: shdr.sh_link(endian),
            info: shdr.sh_info(endian),
            align: shdr.sh_addralign(endian),
            entsize: shdr.sh_entsize(endian),
        };
        if index == 0 || h.sh_type == elf::SHT_NULL {
            // Section 0 holds the extended e_shnum/e_shstrndx/e_phnum: copied as is.
            headers.push(h);
            continue;
        }
        let is_shstrtab = u32::try_from(index).map_or(false, |i| i == shstrndx);
        let keep = h.sh_type != elf::SHT_NOBITS
            && (keep_all || is_shstrtab || keeps_contents(name, h.sh_type));
        if !keep {
            h.sh_type = elf::SHT_NOBITS;
            pad_to(&mut out, h.align)?;
            h.offset = offset_of(&out)?;
            headers.push(h);
            continue;
        }
        let bytes = shdr.data(endian, data).map_err(|_| Error::InvalidElf("section data"))?;
        let compressed = if compress
            && name.starts_with(b".debug_")
            && h.flags & u64::from(elf::SHF_COMPRESSED) == 0
            && !bytes.is_empty()
        {
            compress_section(bytes, h.align)?
        } else {
            None
        };
        match compressed {
            Some(c) => {
                h.flags |= u64::from(elf::SHF_COMPRESSED);
                h.align = 8;
                pad_to(&mut out, h.align)?;
                h.offset = offset_of(&out)?;
                h.size = offset_of(&c)?;
                out.try_reserve(c.len()).map_err(|_| Error::OutOfMemory)?;
                out.extend_from_slice(&c);
            }
            None => {
                pad_to(&mut out, h.align)?;
                h.offset = offset_of(&out)?;
                out.try_reserve(bytes.len()).map_err(|_| Error::OutOfMemory)?;
                out.extend_from_slice(bytes);
            }
        }
        headers.push(h);
    }

    pad_to(&mut out, 8)?;
    let shoff = offset_of(&out)?;
    out.try_reserve(headers.len().saturating_mul(SHDR_SIZE)).map_err(|_| Error::OutOfMemory)?;
    for h in &headers {
        h.write(&mut out);
    }
    // e_phoff at 32, e_shoff at 40 (Elf64_Ehdr); the rest of the header is unchanged.
    let fields = out.get_mut(32..48).ok_or(Error::InvalidElf("ELF header"))?;
    let mut patched = [0u8; 16];
    for (dst, src) in
        patched.iter_mut().zip(phoff.to_le_bytes().iter().chain(shoff.to_le_bytes().iter()))
    {
        *dst = *src;
    }
    fields.copy_from_slice(&patched);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::ElfView;
    use object::{Object, ObjectSection};
    use std::io::Read;

    #[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    fn compile(test: &str) -> Option<Vec<u8>> {
        let dir = std::env::temp_dir().join(format!("strip-{}-{}", test, std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let src = dir.join("t.c");
        let bin = dir.join("t");
        std::fs::write(
            &src,
            "static int g(int x) { return x * 3 + 1; }\n\
             int f(int x) { int s = 0; for (int i = 0; i < x; i++) s += g(i); return s; }\n\
             int main(int argc, char **argv) { (void)argv; return f(argc); }\n",
        )
        .ok()?;
        let status = std::process::Command::new("gcc")
            .args(["-g", "-O2", "-o"])
            .arg(&bin)
            .arg(&src)
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
        let bytes = std::fs::read(&bin).ok();
        let _ = std::fs::remove_dir_all(&dir);
        bytes
    }

    #[test]
    #[allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::integer_arithmetic
    )]
    fn strips_and_compresses_a_gcc_binary() {
        let original = match compile("gcc") {
            Some(b) => b,
            None => return, // no gcc here
        };
        let before = ElfView::parse(&original).unwrap();
        let stripped = strip_debuginfo(&original, 0).unwrap();
        assert!(stripped.len() < original.len());
        let view = ElfView::parse(&stripped).unwrap();
        assert_eq!(view.sections.len(), before.sections.len());
        assert_eq!(view.segments, before.segments, "program headers are unchanged");
        let text = view.section(b".text").unwrap();
        assert_eq!(text.sh_type, elf::SHT_NOBITS);
        assert_eq!(text.size, before.section(b".text").unwrap().size);
        assert_eq!(text.addr, before.section(b".text").unwrap().addr);
        for name in [&b".symtab"[..], b".strtab", b".debug_info", b".debug_line", b".dynsym"] {
            let a = before.section(name).unwrap();
            let b = view.section(name).unwrap();
            assert_eq!(a.sh_type, b.sh_type);
            assert_eq!(a.data, b.data, "{:?} keeps its contents", String::from_utf8_lossy(name));
        }
        assert_eq!(
            view.notes.iter().filter(|n| !n.section.is_empty()).count(),
            before.notes.iter().filter(|n| !n.section.is_empty()).count()
        );
        let obj = object::File::parse(&*stripped).unwrap();
        assert!(obj.symbols().count() > 0);
        assert!(obj.section_by_name(".debug_info").is_some());

        let compressed = strip_debuginfo(&original, STRIP_COMPRESS).unwrap();
        assert!(compressed.len() < stripped.len());
        let cview = ElfView::parse(&compressed).unwrap();
        let mut any = false;
        for s in cview.sections.iter().filter(|s| s.name.starts_with(b".debug_")) {
            let plain = view.section(s.name).unwrap();
            if s.flags & u64::from(elf::SHF_COMPRESSED) == 0 {
                assert_eq!(s.data, plain.data);
                continue;
            }
            any = true;
            assert_eq!(s.offset % 8, 0);
            let chdr = &s.data[..CHDR_SIZE];
            assert_eq!(u32::from_le_bytes(chdr[0..4].try_into().unwrap()), elf::ELFCOMPRESS_ZLIB);
            let size = u64::from_le_bytes(chdr[8..16].try_into().unwrap());
            assert_eq!(size, plain.size);
            let mut inflated = Vec::new();
            flate2::read::ZlibDecoder::new(&s.data[CHDR_SIZE..])
                .read_to_end(&mut inflated)
                .unwrap();
            assert_eq!(inflated, plain.data);
            // object decompresses it too.
            let obj = object::File::parse(&*compressed).unwrap();
            let sec = obj.section_by_name_bytes(s.name).unwrap();
            let cf = sec.compressed_file_range().unwrap();
            assert_eq!(cf.format, object::CompressionFormat::Zlib);
            assert_eq!(cf.uncompressed_size, plain.size);
        }
        assert!(any, "at least .debug_info is compressed");
        // Compression only: .text keeps its bytes, DWARF is compressed.
        let kept = strip_debuginfo(&original, STRIP_COMPRESS | STRIP_KEEP_ALL).unwrap();
        let kview = ElfView::parse(&kept).unwrap();
        assert_eq!(kview.section(b".text").unwrap().data, before.section(b".text").unwrap().data);
        let info = kview.section(b".debug_info").unwrap();
        assert_ne!(info.flags & u64::from(elf::SHF_COMPRESSED), 0);
        // Already compressed sections are not compressed again.
        let again = strip_debuginfo(&compressed, STRIP_COMPRESS).unwrap();
        assert_eq!(again.len(), compressed.len());
    }

    #[test]
    fn classifies_sections() {
        assert!(keeps_contents(b".debug_info", elf::SHT_PROGBITS));
        assert!(keeps_contents(b".zdebug_line", elf::SHT_PROGBITS));
        assert!(keeps_contents(b".gopclntab", elf::SHT_PROGBITS));
        assert!(keeps_contents(b".plt.sec", elf::SHT_PROGBITS));
        assert!(keeps_contents(b".note.gnu.build-id", elf::SHT_NOTE));
        assert!(keeps_contents(b".rela.dyn", elf::SHT_RELA));
        assert!(!keeps_contents(b".text", elf::SHT_PROGBITS));
        assert!(!keeps_contents(b".eh_frame", elf::SHT_PROGBITS));
        assert!(!keeps_contents(b".rodata", elf::SHT_PROGBITS));
    }

    #[test]
    #[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::integer_arithmetic)]
    fn corrupt_inputs_are_errors() {
        assert!(strip_debuginfo(&[], 0).is_err());
        assert!(strip_debuginfo(b"\x7fELF", 0).is_err());
        let original = match compile("corrupt") {
            Some(b) => b,
            None => return,
        };
        // Every truncation of the headers, and of the file, fails or yields a parsable ELF.
        for len in (0..original.len()).step_by(97) {
            if let Ok(out) = strip_debuginfo(&original[..len], STRIP_COMPRESS) {
                assert!(ElfView::parse(&out).is_ok());
            }
        }
        // A kept section pointing past the end of the file is an error.
        let mut bad = original.clone();
        let shoff = u64::from_le_bytes([
            bad[40], bad[41], bad[42], bad[43], bad[44], bad[45], bad[46], bad[47],
        ]) as usize;
        let view = ElfView::parse(&original).unwrap();
        let idx = view.sections.iter().position(|s| s.name == b".symtab").unwrap();
        let at = shoff + idx * SHDR_SIZE + 24;
        bad[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(strip_debuginfo(&bad, 0).err(), Some(Error::InvalidElf("section data")));
        // A 32-bit or big-endian file is refused.
        let mut class32 = original.clone();
        class32[4] = elf::ELFCLASS32;
        assert!(strip_debuginfo(&class32, 0).is_err());
        let mut be = original;
        be[5] = elf::ELFDATA2MSB;
        assert!(strip_debuginfo(&be, 0).is_err());
        // Random byte flips never panic.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let base = bad.clone();
        for _ in 0..2000 {
            let mut m = base.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let pos = (seed % 4096) as usize % m.len();
                m[pos] = (seed >> 32) as u8;
            }
            let _ = strip_debuginfo(&m, STRIP_COMPRESS);
        }
    }
}
