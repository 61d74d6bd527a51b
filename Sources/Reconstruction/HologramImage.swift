import Protocol

/// A hologram as the pipeline accepts it: a camera frame (uint8, uint16 or float32) or float
/// values, `rows × cols`, row-major.
public struct HologramImage: Sendable {
    public let rows: Int
    public let cols: Int
    private let storage: Storage

    private enum Storage: Sendable {
        case frame(Frame)
        case floats([Float])
    }

    public init(frame: Frame) {
        rows = frame.header.rows
        cols = frame.header.cols
        storage = .frame(frame)
    }

    public init(rows: Int, cols: Int, values: [Float]) throws {
        guard rows > 0, cols > 0, values.count == rows * cols else {
            throw ReconstructionError("hologram has \(values.count) values, but its shape \(rows)×\(cols) needs \(rows * cols)")
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw ReconstructionError("hologram pixel (\(bad / cols), \(bad % cols)) is \(values[bad]); intensities must be finite")
        }
        self.rows = rows
        self.cols = cols
        storage = .floats(values)
    }

    /// Writes all pixels as Float into `out` (rows · cols values).
    public func convert(into out: UnsafeMutablePointer<Float>) {
        convert(rows: 0..<rows, into: out)
    }

    /// Writes the pixels of `rows` as Float into `out` (rows.count · cols values). The live path
    /// converts a few rows at a time, just before their FFT, so that the float copy of an 8-bit
    /// frame never leaves the L1/L2 cache.
    public func convert(rows range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        convert(rows: range, columns: 0..<cols, into: out)
    }

    /// Writes the pixels of the window `rows` × `columns` as Float into `out`, row by row
    /// (rows.count · columns.count values).
    public func convert(rows: Range<Int>, columns: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let width = columns.count
        // A window of whole rows is one contiguous run of pixels; otherwise one run per row.
        let whole = width == cols
        let runs = whole ? 1 : rows.count, length = whole ? rows.count * cols : width
        func start(_ run: Int) -> Int { (rows.lowerBound + run) * cols + columns.lowerBound }
        switch storage {
        case .floats(let values):
            values.withUnsafeBufferPointer { p in
                for run in 0..<runs { (out + run * width).update(from: p.baseAddress! + start(run), count: length) }
            }
        case .frame(let frame):
            frame.pixels.withUnsafeBytes { raw in
                for run in 0..<runs {
                    let o = out + run * width, first = start(run)
                    switch frame.header.dtype {
                    case .uint8:
                        let p = raw.bindMemory(to: UInt8.self).baseAddress! + first
                        for i in 0..<length { o[i] = Float(p[i]) }
                    case .uint16:
                        let p = raw.bindMemory(to: UInt16.self).baseAddress! + first
                        for i in 0..<length { o[i] = Float(UInt16(littleEndian: p[i])) }
                    case .float32:
                        o.update(from: raw.bindMemory(to: Float.self).baseAddress! + first, count: length)
                    }
                }
            }
        }
    }
}
