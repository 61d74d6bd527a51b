/// 64-byte aligned storage (one cache line, one AVX-512 vector), the alignment FFTW's SIMD
/// codelets and the inference kernels assume; allocated once (per worker, per frame) and freed
/// with its owner. The one aligned allocator of the project.
public final class AlignedBuffer<Element: BitwiseCopyable>: @unchecked Sendable {
    // Sendable: owners either write it once and share it read-only (frames), or keep it to one
    // thread at a time (workspaces, arenas).
    public static var alignment: Int { 64 }

    public let count: Int
    public let pointer: UnsafeMutablePointer<Element>

    /// `count` elements, each set to `initial` (zero-filled scratch never holds NaN).
    public convenience init(count: Int, initial: Element) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: initial, count: count)
    }

    /// `count` elements whose bytes the caller writes before reading them (a frame copied in
    /// from a socket pays for one pass over the bytes, not two).
    public init(uninitializedCount count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(1, count) * MemoryLayout<Element>.stride, alignment: Self.alignment)
        pointer = raw.bindMemory(to: Element.self, capacity: max(1, count))
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    public subscript(i: Int) -> Element {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }

    public var buffer: UnsafeMutableBufferPointer<Element> { UnsafeMutableBufferPointer(start: pointer, count: count) }
}
