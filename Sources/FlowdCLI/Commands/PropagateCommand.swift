import ArgumentParser
import FlowdTools
import Protocol

/// `flowd propagate`: ``FieldPropagation``.
struct Propagate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Propagate a complex field by the angular-spectrum method the daemon refocuses cells with.",
        discussion: "FIELD and OUT are float32 .npy arrays of shape (2, H, W): real and imaginary parts. See docs/reconstruction.md.")

    @Option(help: "The field (.npy, float32, shape (2, H, W)).")
    var field: String

    @Option(help: "Propagation distance, µm (positive: away from the source).")
    var distanceUm: Double

    @Option(help: "Pixel size of the field, µm.")
    var pixelUm: Double = DefaultOptics.pixelUm

    @Option(help: "Wavelength in vacuum, nm.")
    var wavelengthNm: Double = DefaultOptics.wavelengthNm

    @Option(help: "Refractive index of the medium.")
    var mediumIndex: Double = DefaultOptics.mediumIndex

    @Option(help: "Output field (.npy, float32, shape (2, H, W)).")
    var out: String

    func validate() throws {
        guard pixelUm > 0, wavelengthNm > 0, mediumIndex >= 1, distanceUm.isFinite else {
            throw ValidationError("--pixel-um and --wavelength-nm must be positive, --medium-index at least 1, --distance-um finite")
        }
    }

    func run() throws {
        try FieldPropagation(
            field: field, distanceUm: distanceUm, pixelUm: pixelUm, wavelengthNm: wavelengthNm, mediumIndex: mediumIndex, out: out
        ).run()
    }
}
