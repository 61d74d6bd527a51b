import Foundation
import Protocol
import ZeroMQ

/// A stand-in camera for the ingest demo: PUSHes 8-bit off-axis fringe frames (a tilted plane
/// wave's carrier, I = 128 + 100·cos(kₓx + k_y y + φ), φ stepping each frame) with `seq`,
/// `t_ns` and the rig's wavelength and pixel size, at a target frame rate.
struct SyntheticCamera {
    let socket: ZMQSocket
    let rows: Int
    let cols: Int
    let camera: String
    private let frames: [[UInt8]]

    init(context: ZMQContext, endpoint: String, rows: Int, cols: Int, camera: String = "demo-camera") throws {
        socket = try ZMQSocket(context: context, kind: .push, linger: 2000)
        try socket.setSendHighWaterMark(1000)
        try socket.connect(endpoint)
        self.rows = rows
        self.cols = cols
        self.camera = camera
        // Four phase steps, precomputed, so that sending costs only the copy into libzmq.
        frames = (0..<4).map { step in
            var pixels = [UInt8](repeating: 0, count: rows * cols)
            let kx = 2 * Double.pi / 4.1, ky = 2 * Double.pi / 9.7, phase = Double(step) * Double.pi / 2
            for y in 0..<rows {
                for x in 0..<cols {
                    pixels[y * cols + x] = UInt8(128 + 100 * cos(kx * Double(x) + ky * Double(y) + phase))
                }
            }
            return pixels
        }
    }

    /// Sends frame number `seq`.
    func send(seq: UInt64) throws {
        let header = FrameHeader(
            dtype: .uint8, rows: rows, cols: cols, camera: camera, seq: seq,
            timeNanoseconds: Int64(Date().timeIntervalSince1970 * 1e9), wavelengthNm: 633, pixelUm: 0.107)
        try socket.send([header.jsonBytes(), frames[Int(seq % 4)]])
    }
}
