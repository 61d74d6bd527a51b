import Foundation
import Protocol
import Reconstruction

/// Detection message v1 (worker → aggregator, docs/protocol.md): one frame's objects, as a
/// worker found them, for the aggregator that tracks, classifies and counts.
///
/// Two ZeroMQ parts: `[JSON header, crops]`. The header names the frame (`camera`, `seq`,
/// `t_ns`, its size for the tracker's field), how long the worker held it (`held_ns`: arrival
/// → sent, so that the aggregator's latency includes the worker's without comparing two
/// hosts' clocks), the worker's rejection reason if it could not process the frame, and each
/// object's position, box and measurements; the crops (OPD, nm) follow as raw little-endian
/// float32, `crop_size`² per object in the header's order, so that ≈ 16 KB of pixels per cell
/// never pass through JSON.
struct DetectionMessage: Sendable {
    static let version = 1
    /// Most objects in one frame's message (a 1 MP frame holds a few dozen cells at most).
    static let maxObjects = 4096
    /// Largest crop side accepted, pixels.
    static let maxCropSize = 1024

    var camera: String
    var seq: UInt64
    var tNanoseconds: Int64?
    var rows: Int
    var cols: Int
    /// From the frame's arrival on the worker to its detections being sent, ns.
    var heldNanoseconds: UInt64
    /// Why the worker could not process the frame (a ``RejectionReason`` code); `nil`: processed.
    var rejection: String?
    /// As ``FrameResult/backgroundRmsNm``.
    var backgroundRmsNm: Double?
    /// The frame's objects (cells and rejected objects); empty when ``rejection`` is set.
    var objects: [DetectedCell]

    /// The two parts to send.
    func encoded() -> [[UInt8]] {
        let cropSize = objects.first.map { Int(Double($0.crop.count).squareRoot()) } ?? 0
        let header = Header(
            v: Self.version, camera: camera, seq: seq, t_ns: tNanoseconds, rows: rows, cols: cols, held_ns: heldNanoseconds,
            rejected: rejection, background_rms_nm: backgroundRmsNm?.isFinite == true ? backgroundRmsNm : nil,
            crop_size: cropSize,
            objects: objects.map { cell in
                Header.Object(
                    x: cell.x, y: cell.y, bbox: [cell.box.x, cell.box.y, cell.box.width, cell.box.height],
                    touches_edge: cell.touchesEdge, features: cell.features, residues: cell.residues,
                    focus_um: cell.focusUm, refocus_failed: cell.refocusFailed, rejection: cell.rejection)
            })
        // A non-finite feature (a degenerate mask) is no JSON number: it travels as a string.
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let json = (try? encoder.encode(header)).map(Array.init) ?? []
        var crops = [UInt8]()
        crops.reserveCapacity(objects.count * cropSize * cropSize * 4)
        for object in objects {
            object.crop.withUnsafeBytes { crops.append(contentsOf: $0) }
        }
        return [json, crops]
    }

    /// Decodes and validates what a worker sent; every failure names what was expected.
    /// - Parameter limits: frame sizes beyond `ingest.max_rows` × `ingest.max_cols` are refused.
    init(parts: [UnsafeRawBufferPointer], limits: FrameLimits) throws(DetectionDecodingError) {
        guard parts.count == 2 else {
            throw DetectionDecodingError(
                .wrongPartCount, "message has \(parts.count) part(s); a detection message is exactly 2: [JSON header, crops]")
        }
        guard parts[0].count <= 4 << 20 else {
            throw DetectionDecodingError(.headerNotJSON, "header of \(parts[0].count) bytes, over 4 MiB")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let header: Header
        do {
            header = try decoder.decode(Header.self, from: Data(parts[0]))
        } catch {
            // Only on this error path: is it JSON at all, or JSON of the wrong shape?
            guard (try? JSONSerialization.jsonObject(with: Data(parts[0]), options: .fragmentsAllowed)) != nil else {
                throw DetectionDecodingError(.headerNotJSON, "header is not JSON: \(Self.describe(error))")
            }
            let camera = (try? decoder.decode(CameraOnly.self, from: Data(parts[0])))?.camera
            throw DetectionDecodingError(.badField, "header does not match detection message v1: \(Self.describe(error))", camera: camera)
        }
        func bad(_ what: String) -> DetectionDecodingError {
            DetectionDecodingError(.badField, what, camera: header.camera)
        }
        guard header.v == Self.version else {
            throw DetectionDecodingError(
                .unsupportedVersion, "version \(header.v); this aggregator reads v\(Self.version)", camera: header.camera)
        }
        guard FrameHeader.isValidCameraID(header.camera) else { throw DetectionDecodingError(.badField, "camera: expected a printable string of 1 to \(FrameHeader.maxCameraIDBytes) bytes") }
        guard (1...limits.maxRows).contains(header.rows), (1...limits.maxCols).contains(header.cols) else {
            throw bad("rows × cols \(header.rows)×\(header.cols): expected 1…\(limits.maxRows) × 1…\(limits.maxCols)")
        }
        guard (0...Self.maxCropSize).contains(header.crop_size), header.objects.count <= Self.maxObjects else {
            throw bad("crop_size \(header.crop_size) and \(header.objects.count) objects: expected at most \(Self.maxCropSize) and \(Self.maxObjects)")
        }
        if let reason = header.rejected, RejectionReason(rawValue: reason) == nil {
            throw bad("rejected \"\(reason)\": expected one of \(RejectionReason.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let cropFloats = header.crop_size * header.crop_size
        guard parts[1].count == header.objects.count * cropFloats * 4 else {
            throw DetectionDecodingError(
                .cropSizeMismatch,
                "crops part of \(parts[1].count) bytes; \(header.objects.count) objects × \(header.crop_size)² float32 are \(header.objects.count * cropFloats * 4)",
                camera: header.camera)
        }
        var objects: [DetectedCell] = []
        objects.reserveCapacity(header.objects.count)
        for (i, object) in header.objects.enumerated() {
            guard object.x.isFinite, object.y.isFinite, object.bbox.count == 4, object.bbox[2] >= 0, object.bbox[3] >= 0 else {
                throw bad("objects[\(i)]: expected finite x, y and bbox [x, y, width, height]")
            }
            let crop = [Float](unsafeUninitializedCapacity: cropFloats) { buffer, count in
                let source = UnsafeRawBufferPointer(rebasing: parts[1][(i * cropFloats * 4)..<((i + 1) * cropFloats * 4)])
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: source)
                count = cropFloats
            }
            objects.append(
                DetectedCell(
                    x: object.x, y: object.y,
                    box: PixelBox(x: object.bbox[0], y: object.bbox[1], width: object.bbox[2], height: object.bbox[3]),
                    touchesEdge: object.touches_edge, features: object.features, crop: crop, residues: object.residues,
                    focusUm: object.focus_um, refocusFailed: object.refocus_failed, rejection: object.rejection))
        }
        camera = header.camera
        seq = header.seq
        tNanoseconds = header.t_ns
        rows = header.rows
        cols = header.cols
        heldNanoseconds = header.held_ns
        rejection = header.rejected
        backgroundRmsNm = header.background_rms_nm
        self.objects = objects
    }

    init(
        camera: String, seq: UInt64, tNanoseconds: Int64?, rows: Int, cols: Int, heldNanoseconds: UInt64,
        rejection: String?, backgroundRmsNm: Double?, objects: [DetectedCell]
    ) {
        self.camera = camera
        self.seq = seq
        self.tNanoseconds = tNanoseconds
        self.rows = rows
        self.cols = cols
        self.heldNanoseconds = heldNanoseconds
        self.rejection = rejection
        self.backgroundRmsNm = backgroundRmsNm
        self.objects = objects
    }

    /// A decoding error in a sentence: the key path and what went wrong.
    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            "missing key \((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
            DecodingError.dataCorrupted(let context):
            "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default:
            "\(error)"
        }
    }

    /// The header's JSON, key for key (docs/protocol.md).
    private struct Header: Codable {
        struct Object: Codable {
            var x: Double
            var y: Double
            var bbox: [Int]
            var touches_edge: Bool
            var features: CellFeatures
            var residues: Int
            var focus_um: Double?
            var refocus_failed: Bool
            var rejection: ObjectRejection?
        }
        var v: Int
        var camera: String
        var seq: UInt64
        var t_ns: Int64?
        var rows: Int
        var cols: Int
        var held_ns: UInt64
        var rejected: String?
        var background_rms_nm: Double?
        var crop_size: Int
        var objects: [Object]
    }

    /// Just the camera, to blame a header that fails validation on the camera it names.
    private struct CameraOnly: Decodable {
        var camera: String
    }
}

/// Why a detection message was refused: the aggregator counts it as malformed under the code
/// (`malformed_by_reason` of the camera it names, else of `other`) and logs the sentence.
struct DetectionDecodingError: Error, CustomStringConvertible {
    enum Reason: String, CaseIterable {
        case wrongPartCount = "wrong_part_count"
        case headerNotJSON = "detection_not_json"
        case unsupportedVersion = "unsupported_version"
        case badField = "bad_detection"
        case cropSizeMismatch = "crop_size_mismatch"
    }

    let reason: Reason
    let message: String
    var camera: String?

    init(_ reason: Reason, _ message: String, camera: String? = nil) {
        self.reason = reason
        self.message = message
        self.camera = camera
    }

    var description: String { "\(reason.rawValue): \(message)" }
}
