import SystemSupport

/// Immutable, 64-byte aligned pixel bytes of one frame, shared between threads without copying
/// (the bytes are written once, in init, and only read afterwards).
public final class PixelBuffer: Sendable {
    private let storage: AlignedBuffer<UInt8>

    /// Number of bytes.
    public var count: Int { storage.count }

    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(byteCount: bytes.count) { storage in
            if let base = bytes.baseAddress, bytes.count > 0 {
                storage.baseAddress!.copyMemory(from: base, byteCount: bytes.count)
            }
        }
    }

    /// Builds a buffer by letting `fill` write exactly `byteCount` bytes (simulators, tests).
    public init(byteCount: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        // Uninitialised: `fill` (a copy from a socket's message) is the one pass over the bytes.
        storage = AlignedBuffer(uninitializedCount: byteCount)
        fill(UnsafeMutableRawBufferPointer(storage.buffer))
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(storage.buffer))
    }
}
