/// Presets of the twin's conditions (`--conditions ideal|lab`): the flow's depth, speed
/// profile, rotation, sample composition, debris and reference arm together. Every effect is
/// also set on its own (``FlowConfiguration``, ``RigOptics/referenceArm``); docs/simulator.md
/// lists each with its default and option.
public enum TwinConditions: String, Sendable, CaseIterable, Codable {
    /// Every cell in focus at one speed, no rotation, labelled cells only, an ideal reference:
    /// the frames of the twin before lab conditions existed, bit for bit.
    case ideal
    /// What a real rig sees: cells at random depths in a 30 µm channel (out of focus by up to
    /// ±15 µm, at the speed of their depth in a Poiseuille profile), turning by up to 3° per
    /// frame, faint debris, doublets and the odd sperm cell in the sample, and a reference arm
    /// with parasitic fringes, dust, illumination drift and a reference recorded 2 minutes
    /// before the frames.
    case lab

    /// Sets the flow's and the optics' conditions (mixture included) to the preset's.
    public func apply(to flow: inout FlowConfiguration, optics: inout RigOptics) {
        let ideal = FlowConfiguration()
        switch self {
        case .ideal:
            (flow.cellDepth, flow.profile) = (ideal.cellDepth, ideal.profile)
            (flow.rotationDegreesPerFrame, flow.debrisStyle, flow.mixture) = (ideal.rotationDegreesPerFrame, ideal.debrisStyle, ideal.mixture)
            optics.referenceArm = ReferenceArm()
        case .lab:
            (flow.cellDepth, flow.profile, flow.rotationDegreesPerFrame, flow.debrisStyle) = (.random, .poiseuille, 3, .faint)
            flow.mixture = Self.labMixture
            optics.referenceArm = Self.labReferenceArm
        }
    }

    /// The name of the preset that `flow` and `optics` follow in every effect (mixture included),
    /// or "custom" when one was changed (for twin.json and reports).
    public static func name(of flow: FlowConfiguration, _ optics: RigOptics) -> String {
        for preset in allCases {
            var (f, o) = (flow, optics)
            preset.apply(to: &f, optics: &o)
            if f.cellDepth == flow.cellDepth, f.profile == flow.profile, f.rotationDegreesPerFrame == flow.rotationDegreesPerFrame,
                f.debrisStyle == flow.debrisStyle, f.mixture == flow.mixture, o.referenceArm == optics.referenceArm
            {
                return preset.rawValue
            }
        }
        return "custom"
    }

    /// The lab sample: the three labelled classes at 1 each, debris 0.3, doublets 0.1, sperm
    /// 0.05 (of 3.45: 9 % debris, 3 % doublets, 1.4 % sperm among the objects).
    public static let labMixture: [CellClass: Double] = [
        .healthy: 1, .primaryCancer: 1, .metastaticCancer: 1, .debris: 0.3, .doublet: 0.1, .sperm: 0.05,
    ]

    /// The lab reference arm (docs/simulator.md gives the magnitudes in rad over the field).
    public static var labReferenceArm: ReferenceArm {
        var arm = ReferenceArm()
        arm.parasiticAmplitude = 0.02
        arm.parasiticPhaseRadPerSecond = 0.2
        arm.dustSpecks = 4
        arm.illuminationDrift = 0.03
        arm.referenceAgeSeconds = 120
        arm.tiltRadPerMinute = 0.15
        arm.focusRadPerMinute = 0.1
        return arm
    }
}
