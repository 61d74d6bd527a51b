import Foundation
import Simulator

/// One line of truth.jsonl.
struct TruthLine: Codable {
    var frame: Int
    var cells: [CellTruth]
}

/// twin.json: what a reader needs to reconstruct the folder, and the conditions and class
/// parameters that made it (the fields after `cells` are absent from folders of older twins).
struct TwinMetadata: Codable {
    var size: Int
    var seed: UInt64
    var wavelengthNm: Double
    var pixelUm: Double
    var bitDepth: Int
    var frames: Int
    var pixelsPerFrame: Double
    var cells: Int
    /// ideal, lab or custom (``TwinConditions/name(of:_:)``).
    var conditions: String?
    /// The class-parameter set and the SHA-256 of its file.
    var classParameters: String?
    var classParametersSHA256: String?
    /// Mean speed and the speed on the channel's mid-plane, µm/s.
    var velocityUmPerSecond: Double?
    var centreVelocityUmPerSecond: Double?
    var frameRate: Double?
    var channelDepthUm: Double?
    var cellDepth: String?
    var flowProfile: String?
    var rotationDegreesPerFrame: Double?
    var debrisStyle: String?
    var mixture: [String: Double]?
    var mediumIndex: Double?
    var referenceArm: ReferenceArmMetadata?

    /// The reference arm's effects (``ReferenceArm``).
    struct ReferenceArmMetadata: Codable {
        var parasiticAmplitude: Double
        var parasiticPhaseRadPerSecond: Double
        var dustSpecks: Int
        var illuminationDrift: Double
        var illuminationPeriodSeconds: Double
        var referenceAgeSeconds: Double
        var tiltRadPerMinute: Double
        var focusRadPerMinute: Double

        enum CodingKeys: String, CodingKey {
            case parasiticAmplitude = "parasitic_amplitude", parasiticPhaseRadPerSecond = "parasitic_phase_rad_s"
            case dustSpecks = "dust_specks", illuminationDrift = "illumination_drift"
            case illuminationPeriodSeconds = "illumination_period_s", referenceAgeSeconds = "reference_age_s"
            case tiltRadPerMinute = "tilt_rad_per_min", focusRadPerMinute = "focus_rad_per_min"
        }
    }

    enum CodingKeys: String, CodingKey {
        case size, seed, wavelengthNm = "wavelength_nm", pixelUm = "pixel_um", bitDepth = "bit_depth", frames
        case pixelsPerFrame = "pixels_per_frame", cells, conditions, classParameters = "class_parameters"
        case classParametersSHA256 = "class_parameters_sha256", velocityUmPerSecond = "velocity_um_s"
        case centreVelocityUmPerSecond = "centre_velocity_um_s", frameRate = "frame_rate", channelDepthUm = "channel_depth_um"
        case cellDepth = "cell_depth", flowProfile = "flow_profile", rotationDegreesPerFrame = "rotation_deg_per_frame"
        case debrisStyle = "debris_style", mixture, mediumIndex = "medium_index", referenceArm = "reference_arm"
    }

    init(_ twin: DigitalTwin, frames: Int, cells: Int) {
        let optics = twin.camera.optics
        let flow = twin.flow
        size = flow.width
        seed = flow.seed
        wavelengthNm = optics.wavelengthNm
        pixelUm = optics.pixelUm
        bitDepth = optics.bitDepth
        self.frames = frames
        pixelsPerFrame = twin.pixelsPerFrame
        self.cells = cells
        conditions = TwinConditions.name(of: flow, optics)
        classParameters = twin.classParameters.name.rawValue
        classParametersSHA256 = twin.classParameters.sha256
        velocityUmPerSecond = flow.velocityUmPerSecond
        centreVelocityUmPerSecond = flow.centreVelocityUmPerSecond
        frameRate = flow.frameRate
        channelDepthUm = flow.channelDepthUm
        cellDepth = flow.cellDepth.rawValue
        flowProfile = flow.profile.rawValue
        rotationDegreesPerFrame = flow.rotationDegreesPerFrame
        debrisStyle = flow.debrisStyle.rawValue
        mixture = Dictionary(uniqueKeysWithValues: flow.mixture.map { ($0.key.rawValue, $0.value) })
        mediumIndex = optics.mediumIndex
        let arm = optics.referenceArm
        referenceArm = ReferenceArmMetadata(
            parasiticAmplitude: arm.parasiticAmplitude, parasiticPhaseRadPerSecond: arm.parasiticPhaseRadPerSecond,
            dustSpecks: arm.dustSpecks, illuminationDrift: arm.illuminationDrift, illuminationPeriodSeconds: arm.illuminationPeriodSeconds,
            referenceAgeSeconds: arm.referenceAgeSeconds, tiltRadPerMinute: arm.tiltRadPerMinute, focusRadPerMinute: arm.focusRadPerMinute)
    }

    func write(to folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(self).write(to: folder.appendingPathComponent("twin.json"), options: .atomic)
    }
}
