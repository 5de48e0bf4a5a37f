// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

//! The WebAssembly ABI: plain `extern "C"` functions over linear memory (no wasm-bindgen).
//!
//! ```text
//! abi_version() -> u32                  1
//! alloc(len: usize) -> *mut u8           len bytes for the caller to fill; 0 when len == 0 or
//!                                        memory cannot grow
//! dealloc(ptr: *mut u8, len: usize)      frees what alloc returned (same len); (0, 0) is a no-op
//! elf_facts(ptr, len) -> *const u8       input = the whole ELF file; result = UTF-8 JSON;
//!                                        0 on error
//! unwind_table(ptr, len) -> *const u8    input = the whole ELF file; result = the binary
//!                                        table (layout in README.md); 0 on error
//! unwind_table_sparse(ptr, len) -> *const u8
//!                                        input = a compact image of the file (its headers and
//!                                        the sections a build reads); what else it needs (Go
//!                                        functions' code) is read through the import
//!                                        env.read_file(dst, len, off_lo, off_hi) -> i32
//!                                        (bytes read, < 0 on error); result and errors as
//!                                        unwind_table's
//! strip_debuginfo(ptr, len, flags) -> *const u8
//!                                        input = the whole ELF64 LE file; result = the
//!                                        stripped file (flags bit 0: zlib-compress DWARF,
//!                                        bit 1: keep all contents, compress only);
//!                                        0 on error
//! symbolizer_open(ptr, len) -> u32       input = a section bundle (src/symbolize.rs), which
//!                                        the module takes over (freed by it, even on error);
//!                                        result = a handle (> 0), 0 on error
//! symbolize(handle, ptr, count) -> *const u8
//!                                        input = `count` little-endian u64 ELF addresses;
//!                                        result = their frames (src/symbolize.rs); 0 on error
//! symbolizer_close(handle)               frees a symbolizer (unknown handles are ignored)
//! heap_bytes() -> usize                  bytes allocated and not yet freed in the module
//! go_describe(ptr, len, pcs_ptr, pcs_len, mode) -> *const u8
//!                                        input = the whole ELF file and pcs_len bytes of
//!                                        little-endian u64 PCs; result = the text report of
//!                                        crate::gopclntab::describe (mode 0 frames per PC,
//!                                        1 every function); 0 on error
//! result_len() -> usize                  length of the last result (0 after an error)
//! result_free()                          frees the last result now (else the next call does)
//! last_error_code() -> u32               0 = ok; else crate::Error::code()
//! error_message() -> *const u8           UTF-8 message of the last error
//! error_message_len() -> usize           its length (0 after success)
//! ```
//!
//! A result stays valid until the next `elf_facts`, `unwind_table`, `strip_debuginfo` or
//! `result_free` call; copy
//! it out first. The input is never freed or modified by the module: the caller may pass the
//! same input to both functions, then `dealloc` it. Calls are not reentrant (a WebAssembly
//! instance is single-threaded). Nothing here can trap on any input: a pointer/length pair
//! outside linear memory is rejected with error code 1 before it is read.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;

use crate::error::Error;
use crate::symbolize::Symbolizer;

/// The system allocator, counting live bytes, so the agent can hold the symbolizers of a
/// worker to a memory budget (`heap_bytes`). WebAssembly instances are single-threaded; the
/// native build (tests) counts per process with an atomic.
struct CountingAllocator;

static LIVE_BYTES: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only a counter is updated.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), core::sync::atomic::Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE_BYTES.fetch_sub(layout.size(), core::sync::atomic::Ordering::Relaxed);
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), core::sync::atomic::Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE_BYTES.fetch_sub(layout.size(), core::sync::atomic::Ordering::Relaxed);
            LIVE_BYTES.fetch_add(new_size, core::sync::atomic::Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// The ABI version; bumped on any incompatible change.
pub const ABI_VERSION: u32 = 1;

struct State {
    result: Vec<u8>,
    error_code: u32,
    error_message: Vec<u8>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State {
        result: Vec::new(),
        error_code: 0,
        error_message: Vec::new(),
    });
    /// Open symbolizers; handle h is slot h - 1.
    static SYMBOLIZERS: RefCell<Vec<Option<Symbolizer>>> = RefCell::new(Vec::new());
}

/// Returns [`ABI_VERSION`].
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn abi_version() -> u32 {
    ABI_VERSION
}

/// Allocates `len` bytes (alignment 1) for the caller; returns 0 when `len` is 0 or memory is
/// exhausted.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    if len == 0 {
        return core::ptr::null_mut();
    }
    match Layout::from_size_align(len, 1) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { std::alloc::alloc(layout) },
        Err(_) => core::ptr::null_mut(),
    }
}

/// Frees `len` bytes at `ptr` returned by [`alloc`] with the same `len`.
///
/// # Safety
/// `ptr` must come from `alloc(len)` and not have been freed; `(null, _)` is a no-op.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, len: usize) {
    if ptr.is_null() || len == 0 {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(len, 1) {
        std::alloc::dealloc(ptr, layout);
    }
}

/// Checks that `[ptr, ptr + len)` lies inside linear memory and returns it as a slice.
///
/// # Safety
/// On native targets the caller guarantees the range is readable; on wasm32 it is checked
/// against the memory size, and any in-bounds range is readable.
unsafe fn input<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::InvalidArgument);
    }
    let end = (ptr as usize).checked_add(len).ok_or(Error::InvalidArgument)?;
    #[cfg(target_arch = "wasm32")]
    {
        let memory = core::arch::wasm32::memory_size(0).checked_mul(65536);
        if memory.map_or(true, |size| end > size) {
            return Err(Error::InvalidArgument);
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = end;
    Ok(core::slice::from_raw_parts(ptr, len))
}

/// Stores a result or an error and returns the pointer to hand back (null on error).
fn finish(outcome: Result<Vec<u8>, Error>) -> *const u8 {
    STATE.with(|state| {
        let mut state = match state.try_borrow_mut() {
            Ok(state) => state,
            // Unreachable (no reentrancy), but never panic.
            Err(_) => return core::ptr::null(),
        };
        state.result = Vec::new();
        match outcome {
            Ok(bytes) => {
                state.error_code = 0;
                state.error_message = Vec::new();
                state.result = bytes;
                state.result.as_ptr()
            }
            Err(error) => {
                state.error_code = error.code();
                state.error_message = error.to_string().into_bytes();
                core::ptr::null()
            }
        }
    })
}

/// Reads the ELF facts of the file at `[ptr, ptr + len)`; returns the JSON result or null.
///
/// # Safety
/// See [`input`]: on native targets the range must be readable.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn elf_facts(ptr: *const u8, len: usize) -> *const u8 {
    let outcome =
        input(ptr, len).and_then(crate::facts::elf_facts).map(|f| f.to_json().into_bytes());
    finish(outcome)
}

/// Builds the unwind table of the file at `[ptr, ptr + len)`; returns the binary result or
/// null.
///
/// # Safety
/// See [`input`]: on native targets the range must be readable.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn unwind_table(ptr: *const u8, len: usize) -> *const u8 {
    let outcome = input(ptr, len).and_then(crate::table::build_unwind_table_bytes);
    finish(outcome)
}

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "env")]
extern "C" {
    /// The host's positioned read of the file being built (`unwind_table_sparse`): `len` bytes
    /// at file offset `offset_hi << 32 | offset_lo` into `[dst, dst + len)`; returns the bytes
    /// read, or a negative number on an error.
    fn read_file(dst: *mut u8, len: usize, offset_lo: u32, offset_hi: u32) -> i32;
}

/// Reads through the host's `read_file` import (none on native targets: nothing is read).
fn host_read(offset: u64, buf: &mut [u8]) -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        // SAFETY: `buf` is writable memory of this instance; the host writes at most `len`
        // bytes into it and calls nothing of the module meanwhile.
        let n = unsafe {
            read_file(buf.as_mut_ptr(), buf.len(), offset as u32, offset.wrapping_shr(32) as u32)
        };
        usize::try_from(n).unwrap_or(0).min(buf.len())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (offset, buf);
        0
    }
}

/// Builds the unwind table from a compact image of an ELF file at `[ptr, ptr + len)` (its
/// headers and the sections a build reads), reading the rest it needs (Go functions' code)
/// from the file through the host's `read_file` import; returns the binary table or null.
///
/// # Safety
/// See [`input`]: on native targets the range must be readable.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn unwind_table_sparse(ptr: *const u8, len: usize) -> *const u8 {
    let outcome = input(ptr, len)
        .and_then(|data| crate::table::build_unwind_table_sparse_bytes(data, &host_read));
    finish(outcome)
}

/// Strips the ELF file at `[ptr, ptr + len)` for debuginfo upload (see [`crate::strip`]);
/// `flags` bit 0 compresses DWARF sections, bit 1 keeps every section's contents. Returns the new
/// file or null.
///
/// # Safety
/// See [`input`]: on native targets the range must be readable.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn strip_debuginfo(ptr: *const u8, len: usize, flags: u32) -> *const u8 {
    let outcome = input(ptr, len).and_then(|data| crate::strip::strip_debuginfo(data, flags));
    finish(outcome)
}

/// Loads a section bundle into a new symbolizer and returns its handle (0 on error, with the
/// error code and message set). The module takes ownership of `[ptr, ptr + len)`, which must
/// come from [`alloc`]`(len)`: it is kept as the symbolizer's storage, or freed on error.
///
/// # Safety
/// `ptr` must come from `alloc(len)` and not be used by the caller afterwards.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn symbolizer_open(ptr: *mut u8, len: usize) -> u32 {
    if ptr.is_null() || len == 0 {
        finish(Err(Error::InvalidArgument));
        return 0;
    }
    if input(ptr, len).is_err() {
        finish(Err(Error::InvalidArgument));
        return 0;
    }
    // alloc() used Layout(len, 1), the layout of a Vec<u8> with capacity len.
    let bundle = Vec::from_raw_parts(ptr, len, len);
    match Symbolizer::new(bundle) {
        Ok(s) => {
            let handle = SYMBOLIZERS.with(|all| {
                let mut all = match all.try_borrow_mut() {
                    Ok(all) => all,
                    Err(_) => return 0,
                };
                let slot = match all.iter().position(|x| x.is_none()) {
                    Some(i) => i,
                    None => {
                        all.push(None);
                        all.len().saturating_sub(1)
                    }
                };
                if let Some(place) = all.get_mut(slot) {
                    *place = Some(s);
                }
                slot.checked_add(1).and_then(|h| u32::try_from(h).ok()).unwrap_or(0)
            });
            finish(Ok(Vec::new()));
            handle
        }
        Err(e) => {
            finish(Err(e));
            0
        }
    }
}

/// Symbolizes `count` u64 addresses at `ptr` with the symbolizer `handle`; returns the encoded
/// frames (see [`Symbolizer::encode_frames`]) or null.
///
/// # Safety
/// See [`input`]: on native targets the range must be readable.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn symbolize(handle: u32, ptr: *const u8, count: usize) -> *const u8 {
    let outcome = count
        .checked_mul(8)
        .ok_or(Error::InvalidArgument)
        .and_then(|len| input(ptr, len))
        .and_then(|bytes| {
            let addrs: Vec<u64> = bytes
                .chunks_exact(8)
                .map(|c| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(c);
                    u64::from_le_bytes(a)
                })
                .collect();
            SYMBOLIZERS.with(|all| {
                let all = all.try_borrow().map_err(|_| Error::BadHandle)?;
                let index = usize::try_from(handle).ok().and_then(|h| h.checked_sub(1));
                match index.and_then(|i| all.get(i)).and_then(|s| s.as_ref()) {
                    Some(s) => Ok(s.encode_frames(&addrs)),
                    None => Err(Error::BadHandle),
                }
            })
        });
    finish(outcome)
}

/// Frees the symbolizer `handle`; unknown handles are ignored.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn symbolizer_close(handle: u32) {
    SYMBOLIZERS.with(|all| {
        if let Ok(mut all) = all.try_borrow_mut() {
            let index = usize::try_from(handle).ok().and_then(|h| h.checked_sub(1));
            if let Some(slot) = index.and_then(|i| all.get_mut(i)) {
                *slot = None;
            }
        }
    })
}

/// Bytes allocated by the module and not yet freed (its symbolizers, results, inputs).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn heap_bytes() -> usize {
    LIVE_BYTES.load(core::sync::atomic::Ordering::Relaxed)
}

/// Describes the Go table of the file at `[ptr, ptr + len)`: the frames of each PC in
/// `[pcs_ptr, pcs_ptr + pcs_len)` (little-endian u64s), or every function (`mode` 1). Returns
/// the text result or null.
///
/// # Safety
/// See [`input`]: on native targets both ranges must be readable.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn go_describe(
    ptr: *const u8,
    len: usize,
    pcs_ptr: *const u8,
    pcs_len: usize,
    mode: u32,
) -> *const u8 {
    let outcome = input(ptr, len).and_then(|data| {
        let raw = input(pcs_ptr, pcs_len)?;
        let pcs: Vec<u64> = raw
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                u64::from_le_bytes(b)
            })
            .collect();
        crate::gopclntab::describe(data, &pcs, mode)
    });
    finish(outcome)
}

/// Length of the last result (0 after an error or `result_free`).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn result_len() -> usize {
    STATE.with(|s| s.try_borrow().map_or(0, |s| s.result.len()))
}

/// Frees the last result.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn result_free() {
    STATE.with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            s.result = Vec::new();
        }
    })
}

/// Error code of the last call (0 = success).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn last_error_code() -> u32 {
    STATE.with(|s| s.try_borrow().map_or(0, |s| s.error_code))
}

/// Pointer to the UTF-8 message of the last error (valid until the next call).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn error_message() -> *const u8 {
    STATE.with(|s| s.try_borrow().map_or(core::ptr::null(), |s| s.error_message.as_ptr()))
}

/// Length of the message of the last error (0 after success).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn error_message_len() -> usize {
    STATE.with(|s| s.try_borrow().map_or(0, |s| s.error_message.len()))
}
