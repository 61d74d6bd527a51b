import ArgumentParser
import Foundation
import Protocol
import Simulator

/// The digital twin's options, shared by `flowd simulate` and `flowd extract --simulate`.
///
/// `--conditions` picks a preset (``TwinConditions``); each effect's own option, when given,
/// overrides the preset's value (docs/simulator.md lists them).
struct TwinOptions: ParsableArguments {
    @OptionGroup var frame: FrameSizeOption

    @Option(help: "Random seed: the same seed and options give the same frames.")
    var seed: UInt64 = 1

    @Option(help: "Camera bit depth: 8, 12 or 16.")
    var bitDepth: Int = 8

    @Option(help: "Camera pixel pitch, µm (with --magnification, instead of --pixel-um).")
    var cameraPixelUm: Double?

    @Option(help: "Objective-to-camera magnification (with --camera-pixel-um, instead of --pixel-um).")
    var magnification: Double?

    @Option(help: "Defocus of the sample plane, µm (angular-spectrum propagation; 0 = in focus).")
    var defocusUm: Double = 0

    @Option(help: "Cell speed, µm/s.")
    var velocityUmS: Double = 4000

    @Option(help: "Camera frame rate, frames/s.")
    var fps: Double = 200

    @Option(help: "Cells per µL of sample.")
    var concentration: Double = 2000

    @Option(
        help: ArgumentHelp(
            "Sample composition as class=weight pairs (default: the conditions' mix; ideal: healthy=1,primary_cancer=1,metastatic_cancer=1; lab: those and debris=0.3,doublet=0.1,sperm=0.05).",
            discussion: "Classes: healthy, primary_cancer, metastatic_cancer, sperm, debris, doublet."))
    var mixture: String?

    @OptionGroup(title: "Conditions (a preset; each option below overrides one of its effects)")
    var conditions: TwinConditionOptions

    func validate() throws {
        guard (cameraPixelUm == nil) == (magnification == nil) else {
            throw ValidationError("give --camera-pixel-um and --magnification together")
        }
        if let cameraPixelUm, let magnification, !(cameraPixelUm > 0 && magnification > 0) {
            throw ValidationError("--camera-pixel-um and --magnification must be positive")
        }
        guard [8, 12, 16].contains(bitDepth) else { throw ValidationError("--bit-depth must be 8, 12 or 16") }
        if let mixture { _ = try Self.parsedMixture(mixture) }
    }

    static func parsedMixture(_ text: String) throws -> [CellClass: Double] {
        var mixture: [CellClass: Double] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=")
            guard parts.count == 2, let cellClass = CellClass(rawValue: String(parts[0]).trimmingCharacters(in: .whitespaces)),
                let weight = Double(parts[1]), weight >= 0
            else {
                throw ValidationError(
                    "--mixture: '\(pair)' is not class=weight with a class among "
                        + CellClass.allCases.map(\.rawValue).joined(separator: ", "))
            }
            mixture[cellClass] = weight
        }
        guard mixture.values.reduce(0, +) > 0 else { throw ValidationError("--mixture needs a positive weight") }
        return mixture
    }

    func makeTwin(_ sample: OpticsOptions) throws -> DigitalTwin {
        var optics = RigOptics()
        optics.bitDepth = bitDepth
        optics.wavelengthNm = sample.wavelengthNm ?? DefaultOptics.wavelengthNm
        if let cameraPixelUm, let magnification {
            guard sample.pixelUm == nil else {
                throw ValidationError("give either --pixel-um or --camera-pixel-um with --magnification, not both")
            }
            optics.cameraPixelUm = cameraPixelUm
            optics.magnification = magnification
        } else {
            optics.magnification = optics.cameraPixelUm / (sample.pixelUm ?? DefaultOptics.pixelUm)
        }
        optics.defocusUm = defocusUm
        var flow = FlowConfiguration()
        flow.width = frame.size
        flow.height = frame.size
        flow.seed = seed
        flow.velocityUmPerSecond = velocityUmS
        flow.frameRate = fps
        flow.concentrationPerMicrolitre = concentration
        conditions.apply(to: &flow, optics: &optics)
        if let mixture { flow.mixture = try Self.parsedMixture(mixture) }
        do { return try DigitalTwin(flow: flow, optics: optics) } catch let error as SimulationError {
            throw ValidationError(error.description)
        }
    }
}
