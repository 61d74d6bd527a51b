import FlowDaemon
import Foundation
import FrameIngest
import Logging
import Protocol
import Reconstruction
import Simulator
import ZeroMQ

/// Where `flowd extract` gets holograms: a folder (as `flowd simulate` writes it) or the twin.
public struct ExtractSource {
    public let reference: HologramImage
    /// Flow speed, pixels per frame, when known (the twin, or the folder's twin.json).
    public let pixelsPerFrame: Double?
    public let wavelengthNm: Double
    public let pixelUm: Double
    private var producer: () throws -> (Int, HologramImage, [CellTruth]?)?

    mutating func next() throws -> (Int, HologramImage, [CellTruth]?)? { try producer() }

    public static func simulation(_ twin: DigitalTwin, frames: Int) -> ExtractSource {
        var twin = twin
        var index = 0
        let reference = HologramImage(frame: twin.reference())
        let optics = twin.camera.optics
        return ExtractSource(
            reference: reference, pixelsPerFrame: twin.pixelsPerFrame, wavelengthNm: optics.wavelengthNm,
            pixelUm: optics.pixelUm
        ) {
            guard index < frames else { return nil }
            let (frame, truth) = twin.nextFrame()
            defer { index += 1 }
            return (index, HologramImage(frame: frame), truth.cells)
        }
    }

    public static func folder(_ root: URL, reference: String?) throws -> ExtractSource {
        let fm = FileManager.default
        let dir = root.appendingPathComponent("holograms")
        let names: [String]
        do { names = try fm.contentsOfDirectory(atPath: dir.path) } catch {
            throw HologramFileError("\(dir.path): cannot list holograms (\(error.localizedDescription))")
        }
        // One file per frame: prefer .npy when both formats were written.
        var stems: [String: String] = [:]
        for name in names {
            let url = URL(fileURLWithPath: name)
            let ext = url.pathExtension.lowercased()
            guard ["npy", "tif", "tiff"].contains(ext) else { continue }
            let stem = url.deletingPathExtension().lastPathComponent
            if stems[stem] == nil || ext == "npy" { stems[stem] = name }
        }
        let files = stems.keys.sorted().map { dir.appendingPathComponent(stems[$0]!).path }
        guard !files.isEmpty else { throw HologramFileError("\(dir.path): no .npy or .tif holograms") }
        let referencePath = try reference ?? ["reference.npy", "reference.tif", "reference.tiff"]
            .map { root.appendingPathComponent($0).path }.first(where: fm.fileExists)
            .orThrow(HologramFileError("\(root.path): no reference.npy or reference.tif; give --reference"))
        var meta: TwinMetadata?
        if let data = try? Data(contentsOf: root.appendingPathComponent("twin.json")) {
            meta = try? JSONDecoder().decode(TwinMetadata.self, from: data)
        }
        let truthURL = root.appendingPathComponent("truth.jsonl")
        let truth = fm.fileExists(atPath: truthURL.path) ? try TruthFile.read(truthURL) : [:]
        var index = 0
        let truthOrNil = truth.isEmpty ? nil : truth
        return ExtractSource(
            reference: try HologramFiles.hologram(referencePath), pixelsPerFrame: meta?.pixelsPerFrame,
            wavelengthNm: meta?.wavelengthNm ?? DefaultOptics.wavelengthNm, pixelUm: meta?.pixelUm ?? DefaultOptics.pixelUm
        ) {
            guard index < files.count else { return nil }
            defer { index += 1 }
            // Frame numbers are the file order; truth.jsonl numbers them the same way.
            return (index, try HologramFiles.hologram(files[index]), truthOrNil.map { $0[index] ?? [] })
        }
    }
}

extension ExtractSource {
    /// Frames from a live camera stream, received exactly as the daemon receives them (malformed
    /// messages are counted and logged, never fatal), until `frames` arrived or none came for
    /// `timeoutSeconds`.
    public static func stream(
        _ input: InputSpec, reference: HologramImage, frames: Int?, timeoutSeconds: Double, wavelengthNm: Double?,
        pixelUm: Double?
    ) throws -> ExtractSource {
        let logger = Logger(label: "flowd-extract") { JournalLogHandler(label: $0, level: .warning) }
        let ingest = try FrameIngest(
            inputs: [input], settings: IngestSettings(), context: ZMQContext(), malformedLog: RateLimitedLog(logger: logger),
            logger: logger)
        ingest.start()
        var index = 0
        return ExtractSource(
            reference: reference, pixelsPerFrame: nil, wavelengthNm: wavelengthNm ?? DefaultOptics.wavelengthNm,
            pixelUm: pixelUm ?? DefaultOptics.pixelUm
        ) {
            guard frames.map({ index < $0 }) ?? true, let received = ingest.queue.take(timeout: timeoutSeconds) else {
                ingest.stop()
                return nil
            }
            defer { index += 1 }
            return (index, HologramImage(frame: received.frame), nil)
        }
    }
}
