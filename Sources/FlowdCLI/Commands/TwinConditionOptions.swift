import ArgumentParser
import Simulator

extension TwinConditions: ExpressibleByArgument {}
extension FlowConfiguration.CellDepth: ExpressibleByArgument {}
extension FlowConfiguration.FlowProfile: ExpressibleByArgument {}
extension DebrisStyle: ExpressibleByArgument {}
extension ClassParameters.Name: ExpressibleByArgument {}

/// The twin's conditions: `--conditions ideal|lab` and one option per effect, which overrides
/// the preset's value when given (docs/simulator.md, "Lab conditions").
struct TwinConditionOptions: ParsableArguments {
    @Option(
        help: "Preset: ideal (every cell in focus at one speed, an ideal reference) or lab (a real rig's flow, sample and reference arm). Default: lab for flowd demo, ideal otherwise.")
    var conditions: TwinConditions?

    @Option(help: "Class parameters of the labelled cells: standard (nuclei denser than the cytoplasm) nucleus-less-dense (Schürmann et al. 2016), or broad (class-agnostic, for pretraining on the hidden parameters; docs/simulator.md).")
    var classParameters: ClassParameters.Name = .standard

    @Option(help: "Where cells sit in the channel's depth: mid-plane (in focus) or random (out of focus by their distance from it). Ideal: mid-plane; lab: random.")
    var cellDepth: FlowConfiguration.CellDepth?

    @Option(help: "Speed over the channel's depth: plug (one speed) or poiseuille (laminar, v_max·(1 − (2z/D)²)). Ideal: plug; lab: poiseuille.")
    var flowProfile: FlowConfiguration.FlowProfile?

    @Option(help: "Channel depth, µm.")
    var channelDepthUm: Double = 30

    @Option(help: "Largest in-plane rotation of a cell per frame, degrees (each cell's rate is uniform in ±this). Ideal: 0; lab: 3.")
    var rotationDegPerFrame: Double?

    @Option(help: "Debris: dense (up to ≈ 300 nm of OPD) or faint (≤ ≈ 80 nm). Ideal: dense; lab: faint.")
    var debrisStyle: DebrisStyle?

    @Option(help: "Amplitude of the reference arm's parasitic reflection relative to the reference wave (its phase creeps by 0.2 rad/s in lab conditions, not in ideal ones). Ideal: 0; lab: 0.02.")
    var parasiticFringe: Double?

    @Option(help: "Dust specks in the reference arm. Ideal: 0; lab: 4.")
    var referenceDust: Int?

    @Option(help: "Relative amplitude of the slow illumination drift. Ideal: 0; lab: 0.03.")
    var illuminationDrift: Double?

    @Option(help: "Age of the reference hologram at the first frame, s. Ideal: 0; lab: 120.")
    var referenceAgeS: Double?

    @Option(help: "Growth of the phase tilt between the arms, rad (peak-to-valley over the field) per minute. Ideal: 0; lab: 0.15.")
    var referenceTiltDrift: Double?

    @Option(help: "Growth of the defocus phase between the arms, rad (peak-to-valley over the field) per minute. Ideal: 0; lab: 0.1.")
    var referenceFocusDrift: Double?

    func validate() throws {
        var flow = FlowConfiguration(), optics = RigOptics()
        apply(to: &flow, optics: &optics)
        if let problem = flow.validationError() ?? optics.validationError() { throw ValidationError(problem) }
    }

    /// The preset (`preset` unless `--conditions` was given), then every option given.
    func apply(to flow: inout FlowConfiguration, optics: inout RigOptics, preset: TwinConditions = .ideal) {
        (conditions ?? preset).apply(to: &flow, optics: &optics)
        flow.classParameters = classParameters
        flow.channelDepthUm = channelDepthUm
        if let cellDepth { flow.cellDepth = cellDepth }
        if let flowProfile { flow.profile = flowProfile }
        if let rotationDegPerFrame { flow.rotationDegreesPerFrame = rotationDegPerFrame }
        if let debrisStyle { flow.debrisStyle = debrisStyle }
        if let parasiticFringe { optics.referenceArm.parasiticAmplitude = parasiticFringe }
        if let referenceDust { optics.referenceArm.dustSpecks = referenceDust }
        if let illuminationDrift { optics.referenceArm.illuminationDrift = illuminationDrift }
        if let referenceAgeS { optics.referenceArm.referenceAgeSeconds = referenceAgeS }
        if let referenceTiltDrift { optics.referenceArm.tiltRadPerMinute = referenceTiltDrift }
        if let referenceFocusDrift { optics.referenceArm.focusRadPerMinute = referenceFocusDrift }
    }

    /// The command-line arguments that give these conditions to another `flowd` (the demo's
    /// camera), with `preset` unless `--conditions` was given.
    func arguments(preset: TwinConditions) -> [String] {
        var list = ["--conditions", (conditions ?? preset).rawValue, "--class-parameters", classParameters.rawValue, "--channel-depth-um", "\(channelDepthUm)"]
        func add(_ name: String, _ value: CustomStringConvertible?) { if let value { list += ["--" + name, value.description] } }
        add("cell-depth", cellDepth?.rawValue)
        add("flow-profile", flowProfile?.rawValue)
        add("rotation-deg-per-frame", rotationDegPerFrame)
        add("debris-style", debrisStyle?.rawValue)
        add("parasitic-fringe", parasiticFringe)
        add("reference-dust", referenceDust)
        add("illumination-drift", illuminationDrift)
        add("reference-age-s", referenceAgeS)
        add("reference-tilt-drift", referenceTiltDrift)
        add("reference-focus-drift", referenceFocusDrift)
        return list
    }
}
