import ArgumentParser
import Foundation
import Reconstruction

/// `flowd reconstruct`: one hologram → OPD map (nm, on the hologram's grid) and its cells.
struct Reconstruct: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reconstruct the OPD map of one off-axis hologram and list its cells.",
        discussion: "Holograms and references are .npy (uint8, uint16, float32) or TIFF. See docs/reconstruction.md.")

    @Option(help: "The hologram (.npy or .tif).")
    var hologram: String

    @Option(help: "A cell-free reference hologram of the same rig (.npy or .tif).")
    var reference: String

    @OptionGroup var optics: OpticsOptions

    @OptionGroup var options: ReconstructionOptions

    @Option(help: "Output OPD map: float32 .npy, nm, hologram grid.")
    var out: String

    @Option(help: "Also write the detected cells (bbox, centroid, features) as JSON.")
    var cells: String?

    func run() async throws {
        let parameters = try options.parameters(optics)
        let holo = try HologramFiles.hologram(hologram)
        let ref = try HologramFiles.hologram(reference)
        guard holo.rows == ref.rows, holo.cols == ref.cols else {
            throw HologramFileError("hologram is \(holo.rows)×\(holo.cols) but the reference is \(ref.rows)×\(ref.cols)")
        }
        do {
            let reconstructor = try OffAxisReconstructor(reference: ref, parameters: parameters)
            let workspace = reconstructor.makeWorkspace()
            let found = try reconstructor.process(holo, workspace: workspace, crops: false)
            let opd = reconstructor.fullResolutionOPD(workspace: workspace)
            try HologramFiles.writeFloat(opd, rows: holo.rows, cols: holo.cols, to: URL(fileURLWithPath: out))
            if let cells {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                let report = CellsReport(
                    sideband: [reconstructor.sideband.ky, reconstructor.sideband.kx],
                    fieldShape: [reconstructor.fieldRows, reconstructor.fieldCols],
                    cells: found.map(CellRecord.init))
                try encoder.encode(report).write(to: URL(fileURLWithPath: cells), options: .atomic)
            }
            print("flowd reconstruct: \(found.count) cell(s); OPD map \(holo.rows)×\(holo.cols) → \(out)")
        } catch let error as ReconstructionError {
            throw HologramFileError(error.description)
        }
    }
}
