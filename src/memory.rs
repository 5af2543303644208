//! Heap memory between the stages of one command: what a stage freed is handed back to the
//! operating system before the next stage allocates, so that a command's peak is its largest
//! stage rather than the sum of what the allocator kept from each.

/// Returns the heap's free memory to the operating system (glibc keeps freed memory in every
/// thread's arena and reuses it for small requests only). A no-op on other C libraries.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            /// glibc: releases free memory at the top of the heap and in free pages of every
            /// arena; returns 1 if any was released.
            safe fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        let _released = malloc_trim(0);
    }
}
