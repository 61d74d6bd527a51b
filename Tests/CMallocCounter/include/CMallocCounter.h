// Counts heap allocations so that a test can prove a code path allocates nothing.
//
// The test binary defines malloc, calloc, realloc, memalign, aligned_alloc and posix_memalign
// itself; being in the executable, these definitions take precedence over glibc's for every
// library in the process (ELF symbol interposition). Each one counts, then forwards to glibc's
// __libc_* entry point. The count is per thread, so it is exact even with tests running in
// parallel; a test that needs another thread's count starts and ends it on that thread.
#ifndef CMALLOC_COUNTER_H
#define CMALLOC_COUNTER_H
#include <stdint.h>

/// Starts counting the calling thread's allocation calls from zero.
void flowd_malloc_counter_begin(void);

/// Stops counting; returns the calling thread's allocation calls since the matching begin.
uint64_t flowd_malloc_counter_end(void);

#endif
