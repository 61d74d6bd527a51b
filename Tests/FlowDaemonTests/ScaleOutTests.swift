import Foundation
import Protocol
import Testing

@testable import FlowDaemon
@testable import Reconstruction

/// The pure parts of `role: worker` / `role: aggregator` (docs/scale-out.md): the detection
/// message a worker sends, and the aggregator's reorder by `seq` that gives up lost frames.
@Suite("Scale-out: detection messages and the reorder by seq")
struct ScaleOutTests {
    private static func cell(x: Double, crop: Float, rejection: ObjectRejection? = nil, focus: Double? = -4.5) -> DetectedCell {
        DetectedCell(
            x: x, y: 20.25, box: PixelBox(x: Int(x) - 5, y: 15, width: 11, height: 10), touchesEdge: x < 10,
            features: CellFeatures(
                areaUm2: 110.5, meanOPDNm: 180.25, maxOPDNm: 410.75, phaseVolumeUm3: 19.9, dryMassPg: 110.6, aspectRatio: 1.12,
                ellipseFill: 0.97),
            crop: [Float](repeating: crop, count: 16), residues: 2, focusUm: focus, refocusFailed: focus == nil,
            rejection: rejection)
    }

    private static let message = DetectionMessage(
        camera: "rig-1", seq: 41, tNanoseconds: 1_700_000_000_123_456_789, rows: 256, cols: 320, heldNanoseconds: 3_400_000,
        rejection: nil, backgroundRmsNm: 2.5,
        objects: [cell(x: 5, crop: 1.5), cell(x: 100.75, crop: -2, rejection: .tooSmall, focus: nil)])

    private static func decode(_ parts: [[UInt8]], limits: FrameLimits = FrameLimits()) throws(DetectionDecodingError) -> DetectionMessage {
        // As libzmq hands them over: one buffer per part.
        let buffers = parts.map { part in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: part.count, alignment: 8)
            buffer.copyBytes(from: part)
            return buffer
        }
        defer { for buffer in buffers { buffer.deallocate() } }
        return try DetectionMessage(parts: buffers.map(UnsafeRawBufferPointer.init), limits: limits)
    }

    private static func reason(_ parts: [[UInt8]]) -> DetectionDecodingError.Reason? {
        do throws(DetectionDecodingError) {
            _ = try decode(parts)
            return nil
        } catch {
            return error.reason
        }
    }

    @Test("a detection message decodes to what the worker found: every field, every crop pixel")
    func roundTrip() throws {
        let decoded = try Self.decode(Self.message.encoded())
        #expect(decoded.camera == "rig-1" && decoded.seq == 41 && decoded.tNanoseconds == 1_700_000_000_123_456_789)
        #expect(decoded.rows == 256 && decoded.cols == 320 && decoded.heldNanoseconds == 3_400_000)
        #expect(decoded.rejection == nil && decoded.backgroundRmsNm == 2.5)
        #expect(decoded.objects.count == 2)
        for (got, sent) in zip(decoded.objects, Self.message.objects) {
            #expect(got.x == sent.x && got.y == sent.y && got.box == sent.box && got.touchesEdge == sent.touchesEdge)
            #expect(got.features == sent.features && got.crop == sent.crop && got.residues == sent.residues)
            #expect(got.focusUm == sent.focusUm && got.refocusFailed == sent.refocusFailed && got.rejection == sent.rejection)
        }
    }

    @Test("a frame the worker rejected travels with its reason and no objects")
    func rejectedFrame() throws {
        var message = Self.message
        message.rejection = RejectionReason.noReference.rawValue
        message.objects = []
        let decoded = try Self.decode(message.encoded())
        #expect(decoded.rejection == "no_reference" && decoded.objects.isEmpty)
    }

    @Test("a message that is not a detection is refused under its reason, never a crash")
    func malformed() {
        let parts = Self.message.encoded()
        #expect(Self.reason([parts[0]]) == .wrongPartCount)
        #expect(Self.reason([Array("not json".utf8), []]) == .headerNotJSON)
        #expect(Self.reason([Array(#"{"v": 1, "camera": "rig-1"}"#.utf8), []]) == .badField)
        #expect(Self.reason([parts[0], Array(parts[1].dropLast(4))]) == .cropSizeMismatch)
        let header = String(decoding: parts[0], as: UTF8.self)
        #expect(Self.reason([Array(header.replacingOccurrences(of: #""v":1"#, with: #""v":2"#).utf8), parts[1]]) == .unsupportedVersion)
        #expect(Self.reason([Array(header.replacingOccurrences(of: #""rows":256"#, with: #""rows":0"#).utf8), parts[1]]) == .badField)
        #expect(Self.reason([Array(header.replacingOccurrences(of: #""rig-1""#, with: #""""#).utf8), parts[1]]) == .badField)
        var rejected = Self.message
        rejected.rejection = "eaten_by_dog"
        #expect(Self.reason(rejected.encoded()) == .badField)
    }

    @Test("a bad field is blamed on the camera the header names")
    func blame() {
        let header = String(decoding: Self.message.encoded()[0], as: UTF8.self)
        do throws(DetectionDecodingError) {
            _ = try Self.decode([Array(header.replacingOccurrences(of: #""seq":41"#, with: #""seq":-1"#).utf8), []])
            Issue.record("a negative seq decoded")
        } catch {
            #expect(error.reason == .badField && error.camera == "rig-1")
        }
    }

    // MARK: The reorder by seq

    private static func seqs(_ released: [SequenceReorder<String>.Release]) -> [String] {
        released.map {
            switch $0 {
            case .frame(let ordinal, let seq, let element): "\(element)@\(seq)#\(ordinal)"
            case .lost(let seqs, let count): "lost \(seqs.lowerBound)..<\(seqs.upperBound) (\(count))"
            case .late(let seq): "late \(seq)"
            case .duplicate(let seq): "duplicate \(seq)"
            }
        }
    }

    @Test("frames leave in seq order, whatever order the workers returned them in")
    func inOrder() {
        var reorder = SequenceReorder<String>(timeoutNanoseconds: 1000)
        #expect(reorder.insert("b", seq: 1, at: 0).isEmpty)
        #expect(Self.seqs(reorder.insert("a", seq: 0, at: 1)) == ["a@0#0", "b@1#1"])
        #expect(Self.seqs(reorder.insert("c", seq: 2, at: 2)) == ["c@2#2"])
        #expect(reorder.waiting == 0)
    }

    @Test("a frame no worker returns is given up after the timeout, counted, and the later ones go on")
    func lostAfterTimeout() {
        var reorder = SequenceReorder<String>(timeoutNanoseconds: 1000)
        _ = reorder.insert("a", seq: 0, at: 0)
        #expect(reorder.insert("c", seq: 2, at: 100).isEmpty)
        #expect(reorder.insert("e", seq: 4, at: 200).isEmpty)
        #expect(reorder.expire(at: 1099).isEmpty, "seq 2 has waited 999 ns of 1000")
        // Seq 1 and 3 both given up in one expiry: seq 4 waited behind seq 3 all along.
        #expect(Self.seqs(reorder.expire(at: 1200)) == ["lost 1..<2 (1)", "c@2#2", "lost 3..<4 (1)", "e@4#4"])
        #expect(Self.seqs(reorder.insert("b", seq: 1, at: 1300)) == ["late 1"])
        #expect(Self.seqs(reorder.insert("f", seq: 5, at: 1400)) == ["f@5#5"])
        #expect(Self.seqs(reorder.insert("f", seq: 5, at: 1500)) == ["late 5"])
    }

    @Test("a seq sent twice is a duplicate, not a second frame")
    func duplicate() {
        var reorder = SequenceReorder<String>(timeoutNanoseconds: 1000)
        _ = reorder.insert("b", seq: 3, at: 0)
        #expect(Self.seqs(reorder.insert("b again", seq: 3, at: 1)) == ["duplicate 3"])
    }

    @Test("a camera that does not count from 0 starts at its smallest seq once the first frame waited the timeout")
    func startElsewhere() {
        var reorder = SequenceReorder<String>(timeoutNanoseconds: 1000)
        #expect(reorder.insert("y", seq: 501, at: 0).isEmpty)
        #expect(reorder.insert("x", seq: 500, at: 10).isEmpty)
        #expect(Self.seqs(reorder.expire(at: 1000)) == ["x@500#0", "y@501#1"])
        #expect(reorder.first == 500)
    }

    @Test("at shutdown everything waiting leaves in order, the gaps before it counted as lost")
    func drain() {
        var reorder = SequenceReorder<String>(timeoutNanoseconds: 1_000_000)
        _ = reorder.insert("a", seq: 0, at: 0)
        _ = reorder.insert("d", seq: 3, at: 1)
        _ = reorder.insert("g", seq: 6, at: 2)
        #expect(Self.seqs(reorder.drain()) == ["lost 1..<3 (2)", "d@3#3", "lost 4..<6 (2)", "g@6#6"])
        #expect(reorder.waiting == 0)
    }
}
