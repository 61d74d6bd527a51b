import FrameIngest
import Protocol
import Synchronization

/// Live per-camera frame statistics: frames processed and mean pixel value (in the frame's
/// own units: counts for integer cameras), averaged over each reporting interval.
///
/// This is the daemon's processing stage until the reconstruction pipeline takes its place;
/// its figures appear in the periodic status line.
final class FrameStatistics: Sendable {
    struct Interval: Sendable, Equatable {
        var frames = 0
        var sumOfMeans = 0.0
        var meanPixel: Double { frames > 0 ? sumOfMeans / Double(frames) : .nan }
    }

    private let intervals = Mutex<[String: Interval]>([:])

    func process(_ received: ReceivedFrame) {
        let mean = Self.meanPixel(received.frame)
        intervals.withLock { intervals in
            intervals[received.camera, default: Interval()].frames += 1
            intervals[received.camera, default: Interval()].sumOfMeans += mean
        }
    }

    /// The statistics since the last call, per camera.
    func takeInterval() -> [String: Interval] {
        intervals.withLock { intervals in
            defer { intervals.removeAll(keepingCapacity: true) }
            return intervals
        }
    }

    static func meanPixel(_ frame: Frame) -> Double {
        frame.pixels.withUnsafeBytes { bytes in
            switch frame.header.dtype {
            case .uint8: mean(bytes.bindMemory(to: UInt8.self))
            case .uint16: mean(bytes.bindMemory(to: UInt16.self))
            case .float32: mean(bytes.bindMemory(to: Float.self))
            }
        }
    }

    private static func mean<T: BinaryInteger>(_ pixels: UnsafeBufferPointer<T>) -> Double {
        var sum: UInt64 = 0
        for pixel in pixels { sum &+= UInt64(pixel) }
        return pixels.isEmpty ? 0 : Double(sum) / Double(pixels.count)
    }

    /// Non-finite pixels are left out of the mean.
    private static func mean(_ pixels: UnsafeBufferPointer<Float>) -> Double {
        var sum = 0.0
        var finite = 0
        for pixel in pixels where pixel.isFinite {
            sum += Double(pixel)
            finite += 1
        }
        return finite > 0 ? sum / Double(finite) : .nan
    }
}
