// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

//! ELF facts: build ID, type, static/stripped, compiler, executable segments.
//!
//! The JSON form ([`Facts::to_json`]) is the ABI's `elf_facts` result; its fields are listed in
//! `README.md`. Numbers are plain JSON numbers: every address of a real x86-64 user-space
//! file is below 2^53, so JavaScript reads them exactly.

use core::fmt::Write as _;

use object::elf;

use crate::elf::{ElfView, Segment};
use crate::error::Result;

/// Where a build ID came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildIdKind {
    /// `NT_GNU_BUILD_ID` note (name `GNU`, type 3).
    Gnu,
    /// Go toolchain build ID: `.note.go.buildid`, note name `Go`, type 4. The descriptor is an
    /// ASCII string such as `actionID/contentID`.
    Go,
}

/// Facts about one ELF file.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// 32 or 64.
    pub class: u8,
    /// True for little-endian files.
    pub little_endian: bool,
    /// `e_machine` (62 = x86-64).
    pub machine: u16,
    /// `e_type` (1 REL, 2 EXEC, 3 DYN, 4 CORE).
    pub e_type: u16,
    /// `e_entry`.
    pub entry: u64,
    /// The build ID bytes and where they came from; `None` when the file has neither a GNU nor
    /// a Go build ID (the caller then hashes `.text`).
    pub build_id: Option<(BuildIdKind, &'a [u8])>,
    /// The `PT_INTERP` path.
    pub interp: Option<&'a [u8]>,
    /// `DT_NEEDED` names.
    pub needed: Vec<&'a [u8]>,
    /// Whether the file has a dynamic section (or `PT_DYNAMIC`).
    pub has_dynamic: bool,
    /// Whether `.symtab` exists.
    pub has_symtab: bool,
    /// Whether `.dynsym` exists.
    pub has_dynsym: bool,
    /// Whether `.debug_info` (or compressed `.zdebug_info`) has bytes in the file.
    pub has_debug_info: bool,
    /// Whether `.eh_frame` has bytes in the file.
    pub has_eh_frame: bool,
    /// Whether `.debug_frame` has bytes in the file.
    pub has_debug_frame: bool,
    /// The first NUL-terminated string of `.comment` (e.g. `GCC: (Debian 12.2.0-14) 12.2.0`).
    pub compiler: Option<&'a [u8]>,
    /// The file name in `.gnu_debuglink`.
    pub debuglink: Option<&'a [u8]>,
    /// `.text` as (address, file offset, size), for hashing when there is no build ID.
    pub text: Option<(u64, u64, u64)>,
    /// Executable `PT_LOAD` segments.
    pub exec_segments: Vec<Segment>,
    /// Problems with optional parts of the file that did not stop parsing.
    pub warnings: Vec<&'static str>,
}

impl Facts<'_> {
    /// Static: no `PT_INTERP` and no `DT_NEEDED` (a static-pie still has `.dynamic`).
    pub fn is_static(&self) -> bool {
        self.interp.is_none() && self.needed.is_empty()
    }

    /// Stripped: no `.symtab` and no `.debug_info`.
    pub fn is_stripped(&self) -> bool {
        !self.has_symtab && !self.has_debug_info
    }

    /// Serializes the facts as one JSON object (see `README.md` for the fields).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(1024);
        out.push('{');
        let _ = write!(out, "\"class\":{},", self.class);
        let _ = write!(out, "\"littleEndian\":{},", self.little_endian);
        let _ = write!(out, "\"machine\":{},", self.machine);
        let _ = write!(out, "\"type\":\"{}\",", type_name(self.e_type));
        let _ = write!(out, "\"entry\":{},", self.entry);
        match self.build_id {
            Some((kind, bytes)) => {
                out.push_str("\"buildId\":\"");
                push_hex(&mut out, bytes);
                let kind = match kind {
                    BuildIdKind::Gnu => "gnu",
                    BuildIdKind::Go => "go",
                };
                let _ = write!(out, "\",\"buildIdKind\":\"{}\",", kind);
                out.push_str("\"goBuildId\":");
                if kind == "go" {
                    push_json_string(&mut out, bytes);
                } else {
                    out.push_str("null");
                }
                out.push(',');
            }
            None => out.push_str("\"buildId\":null,\"buildIdKind\":null,\"goBuildId\":null,"),
        }
        let _ = write!(out, "\"static\":{},", self.is_static());
        out.push_str("\"interp\":");
        push_opt_string(&mut out, self.interp);
        out.push_str(",\"needed\":[");
        for (i, name) in self.needed.iter().enumerate() {
            if i != 0 {
                out.push(',');
            }
            push_json_string(&mut out, name);
        }
        out.push_str("],");
        let _ = write!(out, "\"hasDynamic\":{},", self.has_dynamic);
        let _ = write!(out, "\"stripped\":{},", self.is_stripped());
        let _ = write!(out, "\"hasSymtab\":{},", self.has_symtab);
        let _ = write!(out, "\"hasDynsym\":{},", self.has_dynsym);
        let _ = write!(out, "\"hasDebugInfo\":{},", self.has_debug_info);
        let _ = write!(out, "\"hasEhFrame\":{},", self.has_eh_frame);
        let _ = write!(out, "\"hasDebugFrame\":{},", self.has_debug_frame);
        out.push_str("\"compiler\":");
        push_opt_string(&mut out, self.compiler);
        out.push_str(",\"debuglink\":");
        push_opt_string(&mut out, self.debuglink);
        out.push_str(",\"text\":");
        match self.text {
            Some((addr, offset, size)) => {
                let _ =
                    write!(out, "{{\"addr\":{},\"offset\":{},\"size\":{}}}", addr, offset, size);
            }
            None => out.push_str("null"),
        }
        out.push_str(",\"execSegments\":[");
        for (i, seg) in self.exec_segments.iter().enumerate() {
            if i != 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"offset\":{},\"vaddr\":{},\"filesz\":{},\"memsz\":{},\"flags\":{}}}",
                seg.offset, seg.vaddr, seg.filesz, seg.memsz, seg.flags
            );
        }
        out.push_str("],\"warnings\":[");
        for (i, warning) in self.warnings.iter().enumerate() {
            if i != 0 {
                out.push(',');
            }
            push_json_string(&mut out, warning.as_bytes());
        }
        out.push_str("]}");
        out
    }
}

/// Reads the facts of an ELF file of any class, byte order and machine.
pub fn elf_facts(data: &[u8]) -> Result<Facts<'_>> {
    let view = ElfView::parse(data)?;
    Ok(facts_from_view(&view))
}

/// Reads the facts from an already parsed view.
pub fn facts_from_view<'a>(view: &ElfView<'a>) -> Facts<'a> {
    let gnu = view
        .notes
        .iter()
        .find(|n| n.name == b"GNU" && n.n_type == elf::NT_GNU_BUILD_ID && !n.desc.is_empty());
    let go = view.notes.iter().find(|n| {
        n.section == b".note.go.buildid" && n.name == b"Go" && n.n_type == 4 && !n.desc.is_empty()
    });
    let build_id = match (gnu, go) {
        (Some(note), _) => Some((BuildIdKind::Gnu, note.desc)),
        (None, Some(note)) => Some((BuildIdKind::Go, note.desc)),
        (None, None) => None,
    };
    let present = |name: &[u8]| view.section(name).map_or(false, |s| s.has_data && s.size > 0);
    let first_string = |name: &[u8]| {
        view.section(name)
            .filter(|s| s.has_data)
            .map(|s| until_nul(s.data))
            .filter(|s| !s.is_empty())
    };
    Facts {
        class: view.class,
        little_endian: view.little_endian,
        machine: view.e_machine,
        e_type: view.e_type,
        entry: view.entry,
        build_id,
        interp: view.interp,
        needed: view.needed.clone(),
        has_dynamic: view.has_dynamic,
        has_symtab: view.sections.iter().any(|s| s.sh_type == elf::SHT_SYMTAB),
        has_dynsym: view.sections.iter().any(|s| s.sh_type == elf::SHT_DYNSYM),
        has_debug_info: present(b".debug_info") || present(b".zdebug_info"),
        has_eh_frame: present(b".eh_frame"),
        has_debug_frame: present(b".debug_frame") || present(b".zdebug_frame"),
        compiler: first_string(b".comment"),
        debuglink: first_string(b".gnu_debuglink"),
        text: view.section(b".text").map(|s| (s.addr, s.offset, s.size)),
        exec_segments: view.exec_segments().copied().collect(),
        warnings: view.warnings.clone(),
    }
}

fn type_name(e_type: u16) -> String {
    match e_type {
        elf::ET_NONE => "NONE".into(),
        elf::ET_REL => "REL".into(),
        elf::ET_EXEC => "EXEC".into(),
        elf::ET_DYN => "DYN".into(),
        elf::ET_CORE => "CORE".into(),
        other => format!("UNKNOWN({})", other),
    }
}

fn until_nul(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(n) => bytes.get(..n).unwrap_or(bytes),
        None => bytes,
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{:02x}", b);
    }
}

fn push_opt_string(out: &mut String, bytes: Option<&[u8]>) {
    match bytes {
        Some(bytes) => push_json_string(out, bytes),
        None => out.push_str("null"),
    }
}

/// Writes `bytes` (decoded as UTF-8, invalid sequences replaced) as a JSON string literal.
fn push_json_string(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for c in String::from_utf8_lossy(bytes).chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::integer_arithmetic)]
mod tests {
    use super::*;

    #[test]
    fn json_string_escapes_quotes_controls_and_invalid_utf8() {
        let mut out = String::new();
        push_json_string(&mut out, b"a\"b\\c\n\x01\xff");
        assert_eq!(out, "\"a\\\"b\\\\c\\u000a\\u0001\u{fffd}\"");
    }

    #[test]
    fn type_names() {
        assert_eq!(type_name(3), "DYN");
        assert_eq!(type_name(0xfe00), "UNKNOWN(65024)");
    }
}
