//! The global allocator: mimalloc, asked for a plain block whenever its size classes already
//! give a layout the alignment it needs.
//!
//! Rust hands every allocation an alignment, and calling mimalloc's aligned entry point for
//! all of them (as a plain binding does) costs on the request path: in mimalloc 3 that entry
//! point keeps its fast path only while the size class's page has a free block ready. When
//! the page's list runs empty and the class is not a power of two (48, 80, 96 bytes…), it
//! over-allocates from a larger class instead of refilling the list, and keeps doing so on
//! every later call. Under callgrind that was about 7 allocations of each proxied request at
//! about 200 instructions each, where a plain allocation takes about 20 (`bench/README.md`).
//!
//! A plain mimalloc block is aligned to 8 bytes, and to 16 from 16 bytes up: blocks are
//! multiples of 8 bytes, of 16 from 16 up, laid out from a 16-aligned start in their page
//! (mimalloc's `MI_MAX_ALIGN_SIZE`, asserted in its `alloc.c`). So a layout whose alignment
//! is at most 16 and at most its size takes the plain calls; any other keeps the aligned ones.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment a plain mimalloc block of at least this many bytes always has.
const PLAIN_ALIGN: usize = 16;

/// mimalloc as the global allocator (see the module's text).
pub struct Allocator;

/// Whether a plain mimalloc block satisfies `layout`'s alignment.
fn plain(size: usize, align: usize) -> bool {
    align <= PLAIN_ALIGN && align <= size
}

// SAFETY: every block comes from mimalloc, aligned as the layout asks (plain calls only where
// the size classes guarantee it, see `plain`), and goes back to it through `mi_free` or the
// matching realloc, which take blocks from either kind of call.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let (size, align) = (layout.size(), layout.align());
        // SAFETY: mimalloc's allocation calls have no preconditions beyond a power-of-two
        // alignment, which `Layout` guarantees.
        let block = unsafe {
            if plain(size, align) {
                mi::mi_malloc(size)
            } else {
                mi::mi_malloc_aligned(size, align)
            }
        };
        block.cast()
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let (size, align) = (layout.size(), layout.align());
        // SAFETY: as in `alloc`.
        let block = unsafe {
            if plain(size, align) {
                mi::mi_zalloc(size)
            } else {
                mi::mi_zalloc_aligned(size, align)
            }
        };
        block.cast()
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller hands back a block this allocator gave, which mimalloc frees
        // whichever call made it.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        // SAFETY: `ptr` is a live block of this allocator (the caller's promise); mimalloc
        // keeps it where it fits and otherwise moves it to a block made as `alloc` would.
        let block = unsafe {
            if plain(new_size, align) {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size)
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, align)
            }
        };
        block.cast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: [usize; 22] = [
        1, 2, 3, 7, 8, 9, 12, 15, 16, 17, 24, 40, 48, 56, 80, 96, 100, 1000, 1024, 1025, 5000,
        70_000,
    ];
    const ALIGNS: [usize; 8] = [1, 2, 4, 8, 16, 32, 64, 128];

    fn check(ptr: *mut u8, size: usize, align: usize) {
        assert!(!ptr.is_null(), "{size} bytes at {align}");
        assert_eq!(ptr as usize % align, 0, "{size} bytes at {align}");
    }

    #[test]
    fn every_block_has_its_layouts_alignment_and_holds_its_bytes() {
        for align in ALIGNS {
            for size in SIZES {
                let layout = Layout::from_size_align(size, align).unwrap();
                // Many at once, so that pages fill up and the slower paths are taken too.
                let blocks: Vec<*mut u8> = (0..200)
                    .map(|n| {
                        // SAFETY: a non-zero size.
                        let ptr = unsafe { Allocator.alloc(layout) };
                        check(ptr, size, align);
                        // SAFETY: the block holds `size` bytes.
                        unsafe { ptr.write_bytes(n as u8, size) };
                        ptr
                    })
                    .collect();
                for (n, ptr) in blocks.into_iter().enumerate() {
                    // SAFETY: written above, freed once.
                    unsafe {
                        assert_eq!(*ptr.add(size - 1), n as u8);
                        Allocator.dealloc(ptr, layout);
                    }
                }
            }
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_and_aligned() {
        for align in ALIGNS {
            for size in SIZES {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; the block is read within it and freed once.
                unsafe {
                    let ptr = Allocator.alloc_zeroed(layout);
                    check(ptr, size, align);
                    assert!(
                        std::slice::from_raw_parts(ptr, size)
                            .iter()
                            .all(|b| *b == 0)
                    );
                    Allocator.dealloc(ptr, layout);
                }
            }
        }
    }

    #[test]
    fn a_grown_or_shrunk_block_keeps_its_alignment_and_its_bytes() {
        for align in ALIGNS {
            for (from, to) in [
                (8, 4096),
                (4, 12),
                (16, 3),
                (24, 48),
                (5000, 20),
                (1, 70_000),
            ] {
                let layout = Layout::from_size_align(from, align).unwrap();
                // SAFETY: non-zero sizes; bytes read within the smaller size; freed once with
                // the layout the block has after the realloc.
                unsafe {
                    let ptr = Allocator.alloc(layout);
                    check(ptr, from, align);
                    ptr.write_bytes(0xa5, from);
                    let moved = Allocator.realloc(ptr, layout, to);
                    check(moved, to, align);
                    let kept = std::slice::from_raw_parts(moved, from.min(to));
                    assert!(kept.iter().all(|b| *b == 0xa5), "{from} -> {to} at {align}");
                    Allocator.dealloc(moved, Layout::from_size_align(to, align).unwrap());
                }
            }
        }
    }
}
