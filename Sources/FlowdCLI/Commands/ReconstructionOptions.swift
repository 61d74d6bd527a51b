import ArgumentParser
import Protocol
import Reconstruction

/// Options of the off-axis pipeline, shared by `flowd reconstruct` and `flowd extract`.
struct ReconstructionOptions: ParsableArguments {
    @Option(help: "Specific refractive increment α for dry mass, mL/g.")
    var alpha: Double = DefaultOptics.alphaMlPerGram

    @Option(help: "Sideband filter: disk (qpretrieve's default), smooth-disk or gauss.")
    var filter: String = "disk"

    @Option(help: "Filter radius as a fraction of the sideband distance (qpretrieve: 1/3).")
    var filterSize: Double = 1.0 / 3.0

    @Option(
        help: ArgumentHelp(
            "The phase's sign: auto, as-is or inverted.",
            discussion: "auto decides from the data: cells are optically denser than their medium."))
    var phaseSign: String = "auto"

    @Flag(help: ArgumentHelp("Deprecated: --phase-sign inverted.", visibility: .hidden))
    var invertPhase = false

    @Option(help: "Refocus every cell: auto (search its focus) or off.")
    var refocus: String = "auto"

    @Option(help: "Half-width of the focus search, µm.")
    var refocusRangeUm: Double = 15

    @Option(help: "Refractive index of the medium, for the refocusing propagation.")
    var mediumIndex: Double = DefaultOptics.mediumIndex

    @Option(help: "OPD above which a pixel belongs to a cell, nm.")
    var thresholdNm: Double = 20

    @Option(help: "Smallest accepted cell area, µm².")
    var minAreaUm2: Double = 30

    @Option(help: "Largest accepted cell area, µm².")
    var maxAreaUm2: Double = 1500

    @Option(help: "Largest accepted long/short axis ratio (1.5 rejects doublets; ≈ 4 for sperm).")
    var maxAspect: Double = 1.5

    @Option(help: "Classifier crop size, pixels (the model's input.size).")
    var cropSize: Int = 64

    @Option(help: "Classifier crop pixel size, µm (the model's input.pixel_um).")
    var cropPixelUm: Double = 0.3

    func validate() throws {
        _ = try parameters(wavelengthNm: DefaultOptics.wavelengthNm, pixelUm: DefaultOptics.pixelUm)
    }

    /// The parameters; `wavelengthNm` and `pixelUm` fill the optics the user did not give.
    func parameters(
        _ optics: OpticsOptions, wavelengthNm defaultWavelength: Double = DefaultOptics.wavelengthNm,
        pixelUm defaultPixel: Double = DefaultOptics.pixelUm
    ) throws -> ReconstructionParameters {
        try parameters(wavelengthNm: optics.wavelengthNm ?? defaultWavelength, pixelUm: optics.pixelUm ?? defaultPixel)
    }

    private func parameters(wavelengthNm: Double, pixelUm: Double) throws -> ReconstructionParameters {
        var p = ReconstructionParameters()
        p.wavelengthNm = wavelengthNm
        p.pixelUm = pixelUm
        p.cropSize = cropSize
        p.cropPixelUm = cropPixelUm
        p.alphaMlPerGram = alpha
        guard let f = FourierFilter(rawValue: filter) else {
            throw ValidationError("--filter must be one of " + FourierFilter.allCases.map(\.rawValue).joined(separator: ", "))
        }
        p.filter = f
        p.filterRadiusFraction = filterSize
        guard let sign = PhaseSign(rawValue: phaseSign) else {
            throw ValidationError("--phase-sign must be one of " + PhaseSign.allCases.map(\.rawValue).joined(separator: ", "))
        }
        if invertPhase && sign == .asIs {
            throw ValidationError("--invert-phase (deprecated: --phase-sign inverted) contradicts --phase-sign as-is")
        }
        p.phaseSign = invertPhase ? .inverted : sign
        guard ["auto", "off"].contains(refocus) else { throw ValidationError("--refocus must be auto or off") }
        p.refocus = refocus == "auto"
        p.refocusRangeUm = refocusRangeUm
        p.mediumIndex = mediumIndex
        p.detectionThresholdNm = thresholdNm
        p.maskThresholdNm = thresholdNm
        p.minAreaUm2 = minAreaUm2
        p.maxAreaUm2 = maxAreaUm2
        p.maxAspectRatio = maxAspect
        if let problem = p.validationError() { throw ValidationError(problem) }
        return p
    }
}

/// Wavelength and pixel size: shared by the twin and the reconstruction, so given once.
struct OpticsOptions: ParsableArguments {
    @Option(help: "Illumination wavelength, nm (default \(DefaultOptics.wavelengthNm); extract: the simulated folder's).")
    var wavelengthNm: Double?

    @Option(help: "Hologram pixel size in the sample plane, µm (default \(DefaultOptics.pixelUm); extract: the simulated folder's).")
    var pixelUm: Double?
}
