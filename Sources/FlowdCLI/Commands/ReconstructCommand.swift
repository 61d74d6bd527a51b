import ArgumentParser
import FlowdTools

/// `flowd reconstruct`: ``HologramReconstruction``.
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
        try HologramReconstruction(
            hologram: hologram, reference: reference, parameters: try options.parameters(optics), out: out, cells: cells
        ).run()
    }
}
