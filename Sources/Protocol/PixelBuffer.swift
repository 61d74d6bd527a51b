/// Immutable, 64-byte aligned pixel bytes of one frame, shared between threads without copying.
public final class PixelBuffer: @unchecked Sendable {
    // Sendable: the bytes are written once, in init, and only read afterwards.
    private let storage: UnsafeMutableRawBufferPointer

    /// Number of bytes.
    public var count: Int { storage.count }

    public init(copying bytes: UnsafeRawBufferPointer) {
        storage = .allocate(byteCount: bytes.count, alignment: 64)
        if let base = bytes.baseAddress, bytes.count > 0 {
            storage.baseAddress!.copyMemory(from: base, byteCount: bytes.count)
        }
    }

    /// Builds a buffer by letting `fill` write exactly `byteCount` bytes (simulators, tests).
    public init(byteCount: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        storage = .allocate(byteCount: byteCount, alignment: 64)
        fill(storage)
    }

    deinit { storage.deallocate() }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(storage))
    }
}
