import Foundation
import Inference
import NATS
import ContentHash

/// How a model travels through NATS to the rigs (`flowd fleet deploy`; docs/scale-out.md).
///
/// Debian's NATS (server 2.9, C client 3.4) has no object store, so the file goes into a stream
/// in chunks and a key pins it per rig:
/// - stream `FLOWD_MODELS` (created if missing; subjects `flowd_models.>`): the file in chunks of
///   ``chunkBytes`` (well under NATS's default 1 MB message limit), chunk *i* of the file with
///   SHA-256 *h* on subject `flowd_models.<h>.<i>` with message id `<h>/<i>`;
/// - key `<rig>.model` in the fleet's bucket: the ``Pin`` of the model that rig must run;
/// - key `<rig>.model_in_service`: the ``Pin`` of the model the rig's daemon has in service,
///   written at start and after each swap.
///
/// A daemon takes a pinned model only whole and with the pinned hash; anything else is refused
/// and logged, and the running model keeps serving.
public enum ModelRollout {
    public static let stream = "FLOWD_MODELS"
    public static let chunkBytes = 256 * 1024

    /// Why a model could not be deployed or taken into service.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// A model as the fleet's bucket names it.
    public struct Pin: Codable, Sendable, Equatable {
        public var sha256: String
        public var chunks: Int
        public var bytes: Int
        /// The file's name where it was deployed from (for people; not used).
        public var name: String
    }

    static func subject(sha256: String, chunk: Int) -> String { "flowd_models.\(sha256).\(chunk)" }

    /// Publishes the model file `path` (which must load as a flowd model) into the stream and
    /// pins it for `rigs`. Returns its pin.
    public static func deploy(_ path: String, rigs: [String], through connection: NATSConnection, bucket: String) throws
        -> Pin
    {
        let file = try ModelFile(path: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        guard sha256Hex(bytes) == file.sha256 else { throw Failure(description: "\(path) changed while it was read") }
        let chunks = stride(from: 0, to: bytes.count, by: chunkBytes).enumerated().map { index, start in
            NATSConnection.Message(
                subject: subject(sha256: file.sha256, chunk: index), id: "\(file.sha256)/\(index)",
                payload: Array(bytes[start..<min(bytes.count, start + chunkBytes)]))
        }
        try connection.ensureStream(
            stream, subjects: ["flowd_models.>"], maxAgeSeconds: 365 * 86400, maxBytes: 1 << 30,
            duplicateWindowSeconds: 120)
        guard connection.publish(chunks, timeoutMilliseconds: 10_000) else {
            throw Failure(description: "the stream \(stream) did not store every chunk of \(path) within 10 s")
        }
        let pin = Pin(
            sha256: file.sha256, chunks: chunks.count, bytes: bytes.count, name: URL(fileURLWithPath: path).lastPathComponent)
        let encoded = [UInt8](try JSONEncoder().encode(pin))
        for rig in rigs { try connection.put(encoded, key: "\(rig).model", bucket: bucket) }
        return pin
    }

    /// The file of `pin`, read back from the stream and checked against its size and hash.
    static func fetch(_ pin: Pin, through connection: NATSConnection) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(pin.bytes)
        for chunk in 0..<pin.chunks {
            guard let part = try connection.lastMessage(stream: stream, subject: subject(sha256: pin.sha256, chunk: chunk))
            else { throw Failure(description: "chunk \(chunk) of model \(pin.sha256) is not in the stream \(stream)") }
            bytes += part
        }
        guard bytes.count == pin.bytes, sha256Hex(bytes) == pin.sha256 else {
            throw Failure(description: "model \(pin.sha256) read back from the stream does not match its pin (size or SHA-256)")
        }
        return bytes
    }
}
