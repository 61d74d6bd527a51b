import FlowDaemon
import Foundation
import Reconstruction

/// `flowd reconstruct`: one hologram file → its OPD map (float32 .npy, nm, on the hologram's
/// grid) and, optionally, its cells as JSON (``CellsReport``).
public struct HologramReconstruction {
    /// The hologram and a cell-free reference of the same rig (.npy or .tif).
    public var hologram: String
    public var reference: String
    public var parameters: ReconstructionParameters
    /// The OPD map to write, and the cells' JSON (`nil`: none).
    public var out: String
    public var cells: String?

    public init(hologram: String, reference: String, parameters: ReconstructionParameters, out: String, cells: String?) {
        (self.hologram, self.reference, self.parameters, self.out, self.cells) = (hologram, reference, parameters, out, cells)
    }

    public func run() throws {
        let holo = try HologramFiles.hologram(hologram)
        let ref = try HologramFiles.hologram(reference)
        guard holo.rows == ref.rows, holo.cols == ref.cols else {
            throw HologramFileError("hologram is \(holo.rows)×\(holo.cols) but the reference is \(ref.rows)×\(ref.cols)")
        }
        do {
            let reconstructor = try OffAxisReconstructor(reference: ref, parameters: parameters)
            let workspace = reconstructor.makeWorkspace()
            let found = try reconstructor.process(holo, workspace: workspace, crops: false)
            let opd = reconstructor.fullResolutionOPD(of: holo, workspace: workspace)
            try HologramFiles.writeFloat(opd, rows: holo.rows, cols: holo.cols, to: URL(fileURLWithPath: out))
            if let cells {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                let report = CellsReport(
                    sideband: [reconstructor.sideband.ky, reconstructor.sideband.kx],
                    fieldShape: [reconstructor.fieldRows, reconstructor.fieldCols],
                    phaseSign: workspace.phaseSign.rawValue, phaseSignSetting: parameters.phaseSign.rawValue,
                    refocus: parameters.refocus ? "auto" : "off", cells: found.map(CellRecord.init))
                try encoder.encode(report).write(to: URL(fileURLWithPath: cells), options: .atomic)
            }
            let sign = parameters.phaseSign == .auto ? "\(workspace.phaseSign.rawValue) (auto)" : workspace.phaseSign.rawValue
            print("flowd reconstruct: \(found.count) cell(s), phase sign \(sign); OPD map \(holo.rows)×\(holo.cols) → \(out)")
        } catch let error as ReconstructionError {
            throw HologramFileError(error.description)
        }
    }
}
