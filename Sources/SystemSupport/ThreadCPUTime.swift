import Glibc

/// CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`), ns: what a piece of work
/// costs whatever else the machine runs (wall time grows with the load; this does not, apart
/// from the caches the others share).
public func threadCPUNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}
