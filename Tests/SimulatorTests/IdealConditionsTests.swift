import Foundation
import Protocol
import Testing

@testable import Simulator

@Suite("The ideal twin is frozen")
struct IdealConditionsTests {
    /// FNV-1a (64 bit) over bytes: a checksum to compare frames with those of an earlier version.
    static func fnv1a(_ bytes: [UInt8], _ hash: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        bytes.reduce(hash) { ($0 ^ UInt64($1)) &* 0x0100_0000_01b3 }
    }

    @Test("ideal conditions give the same frames and true OPD, bit for bit, as before the lab conditions existed")
    func framesUnchanged() throws {
        var optics = RigOptics()
        optics.magnification = optics.cameraPixelUm / 0.25
        var flow = FlowConfiguration()
        (flow.width, flow.height, flow.seed, flow.concentrationPerMicrolitre) = (256, 256, 7, 60000)
        flow.mixture = [.healthy: 1, .primaryCancer: 1, .metastaticCancer: 1, .sperm: 1, .debris: 1, .doublet: 1]
        var twin = try DigitalTwin(flow: flow, optics: optics)
        var hash = Self.fnv1a(twin.reference().pixels.withUnsafeBytes { Array($0) })
        var cells = 0
        for _ in 0..<8 {
            let (frame, truth) = twin.nextFrame()
            hash = Self.fnv1a(frame.pixels.withUnsafeBytes { Array($0) }, hash)
            hash = Self.fnv1a(truth.opdNm.withUnsafeBytes { Array($0) }, hash)
            cells += truth.cells.count
        }
        #expect(cells > 10)
        #expect(hash == 0xaa7f_8865_bad7_ffb4, "checksum computed from the twin before lab conditions (commit cdd3a2d)")
    }
}
