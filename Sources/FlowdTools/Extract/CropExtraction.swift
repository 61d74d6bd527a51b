import FlowDaemon
import Foundation
import Protocol
import Reconstruction
import Simulator
import Tracking

/// `flowd extract`: holograms → one OPD crop and one feature row per tracked cell, as the
/// training dataset file (.npz, docs/protocol.md). Cells are tracked across frames and each
/// physical cell is written once (its appearance wholly in view with the largest area); cells
/// never wholly in view are skipped. Labels come from the source's ground truth, else −1; from
/// the twin (`--simulate`) also each labelled cell's hidden ``PhantomParameters``
/// (`phantom_<name>`, NaN for other objects), the targets of training/topgan/twinsupervised.py.
public struct CropExtraction {
    public var source: ExtractSource
    public var parameters: ReconstructionParameters
    /// A guess of the cells' displacement per frame along x, hologram pixels; `nil`: the
    /// source's, if it says, else learned by the tracker.
    public var velocityPixels: Double?
    /// The dataset file to write (.npz).
    public var out: String

    public init(source: ExtractSource, parameters: ReconstructionParameters, velocityPixels: Double?, out: String) {
        (self.source, self.parameters, self.velocityPixels, self.out) = (source, parameters, velocityPixels, out)
    }

    public func run() throws {
        var source = source
        let reconstructor: OffAxisReconstructor
        do { reconstructor = try OffAxisReconstructor(reference: source.reference, parameters: parameters) } catch let error as ReconstructionError {
            throw HologramFileError(error.description)
        }
        let velocity = (velocityPixels ?? source.pixelsPerFrame).map { SIMD2($0, 0) }
        let workspace = reconstructor.makeWorkspace()
        var tracker = FlowTracker(configuration: .init(velocity: velocity, gatePixels: 8 / parameters.pixelUm))
        var tracks: [FlowTracker.Track] = []
        var truthByFrame: [Int: [CellTruth]] = [:]
        var frameCount = 0
        while let (index, image, truth) = try source.next() {
            let cells: [DetectedCell]
            do {
                cells = try reconstructor.process(image, workspace: workspace, focusHints: tracker.focusHints(atFrame: index))
            } catch let error as ReconstructionError {
                throw HologramFileError("frame \(index): \(error.description)")
            }
            tracks += tracker.update(frame: index, cells: cells)
            if let truth { truthByFrame[index] = truth }
            frameCount += 1
        }
        tracks += tracker.finish()
        // Each cell counts once, if it was wholly in view at least once.
        let counted = tracks.filter(\.wasWhollyInView).sorted { $0.best.frame < $1.best.frame }
        let truth = truthByFrame.isEmpty ? nil : GroundTruth(frames: truthByFrame)
        try write(counted, truth: truth, parameters: parameters)
        var summary = "flowd extract: \(counted.count) cells from \(frameCount) frames → \(out)"
        if let truth {
            let trueCount = truth.countable.count
            let error = Double(counted.count - trueCount) / Double(max(trueCount, 1)) * 100
            summary += String(format: "\n  truth: %d cells wholly in view; count error %+.2f %%", trueCount, error)
        }
        print(summary)
    }

    private func write(_ tracks: [FlowTracker.Track], truth: GroundTruth?, parameters: ReconstructionParameters) throws {
        let s = parameters.cropSize
        var opd: [Float] = []
        opd.reserveCapacity(tracks.count * s * s)
        var labels: [Int64] = [], frames: [Int64] = [], appearances: [Int64] = [], truthIDs: [Int64] = []
        var xs: [Float] = [], ys: [Float] = [], truthClasses: [String] = []
        var features = [[Float]](repeating: [], count: CellFeatures.names.count)
        var phantoms = [[Float]](repeating: [], count: PhantomParameters.names.count)
        for track in tracks {
            let best = track.best
            opd += best.cell.crop
            let owner = truth?.cell(frame: best.frame, x: best.cell.x, y: best.cell.y)
            labels.append(Int64(owner?.label ?? -1))
            truthIDs.append(Int64(owner?.id ?? -1))
            truthClasses.append(owner?.cellClass.rawValue ?? "none")
            frames.append(Int64(best.frame))
            appearances.append(Int64(track.appearances.count))
            xs.append(Float(best.cell.x))
            ys.append(Float(best.cell.y))
            for (k, v) in best.cell.features.values.enumerated() { features[k].append(Float(v)) }
            let hidden = owner?.phantom?.values ?? [Double](repeating: .nan, count: phantoms.count)
            for (k, v) in hidden.enumerated() { phantoms[k].append(Float(v)) }
        }
        let n = tracks.count
        var npz = NPZWriter()
        npz.add("opd", try NumPyArray(float32: opd, shape: [n, s, s]))
        npz.add("label", try NumPyArray(int64: labels, shape: [n]))
        npz.add("classes", strings: CellClass.labelled.map(\.rawValue))
        for (k, name) in CellFeatures.names.enumerated() { npz.add(name, try NumPyArray(float32: features[k], shape: [n])) }
        npz.add("frame", try NumPyArray(int64: frames, shape: [n]))
        npz.add("appearances", try NumPyArray(int64: appearances, shape: [n]))
        npz.add("x", try NumPyArray(float32: xs, shape: [n]))
        npz.add("y", try NumPyArray(float32: ys, shape: [n]))
        if truth != nil {
            npz.add("truth_id", try NumPyArray(int64: truthIDs, shape: [n]))
            npz.add("truth_class", strings: truthClasses)
        }
        // One array per parameter, like the features, so that files concatenate array by array.
        // Only the twin knows them (truth.jsonl of a folder does not carry them).
        if truth?.frames.values.contains(where: { $0.contains { $0.phantom != nil } }) == true {
            for (k, name) in PhantomParameters.names.enumerated() {
                npz.add("phantom_" + name, try NumPyArray(float32: phantoms[k], shape: [n]))
            }
        }
        npz.add("pixel_um", try NumPyArray(float32: [Float(parameters.cropPixelUm)], shape: []))
        try npz.write(to: URL(fileURLWithPath: out))
    }

}
