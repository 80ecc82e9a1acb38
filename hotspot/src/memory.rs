//! The daemon's memory footprint: how the C allocator is told to keep it small.

/// Arenas glibc's allocator may create. By default it makes up to eight per core, one per
/// thread that allocates concurrently, and each keeps the memory its thread freed: with the
/// radio, runtime and delivery threads that held about 13 MB of the daemon's resident memory
/// for nothing. Two arenas keep that overhead small without making threads wait on one lock.
pub const MALLOC_ARENAS: i32 = 2;

/// Blocks of at least this many bytes get their own mapping from the kernel, given back
/// when freed. glibc starts at the same 128 KiB but raises the threshold each time such a
/// block is freed, after which the radio's sample buffers (up to a few hundred KiB each,
/// resized as frames come and go) fragment the heap; a fixed threshold keeps them apart.
pub const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Limits glibc's allocator to [`MALLOC_ARENAS`] arenas and fixes its mapping threshold at
/// [`MMAP_THRESHOLD`]; call before the daemon's threads start. Returns false when the
/// settings could not be made (and always on other C libraries, whose allocators this does
/// not concern).
pub fn limit_allocator_arenas() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes the allocator's tuning; M_ARENA_MAX takes any
        // positive count and M_MMAP_THRESHOLD any size up to 32 MiB, both at any time
        // (arenas already made are kept).
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS) == 1
                && libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
