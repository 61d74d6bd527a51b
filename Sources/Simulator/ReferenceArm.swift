/// What the reference arm of a real rig adds to the ideal one (all zero: the ideal arm, which
/// the reference hologram cancels exactly). docs/simulator.md lists the lab values.
///
/// With the object wave O, the reference R·D (D: dust) and a weak parasitic wave P = ε·e^{iθ}
/// (a reflection, at another spatial frequency), the camera records
/// I = E_τ(r)·(|O|² + |D|² + 2V·Re(O·conj(D)·e^{iψ_τ}) + 2V·ε·cos(2π k_p·r + θ_τ)),
/// τ the time since the reference hologram was recorded: E_τ drifts slowly, ψ_τ = ψ + tilt(τ) +
/// focus(τ) (the arms' path difference creeps), θ_τ the reflection's phase creeps.
public struct ReferenceArm: Sendable, Equatable {
    /// Amplitude ε of the parasitic wave relative to the reference (0.02: a 0.04 % reflection).
    public var parasiticAmplitude = 0.0
    /// Where the parasitic fringes sit in the spectrum, cycles/px, relative to the object's
    /// sideband (−carrier): inside the sideband filter, so that they reach the phase.
    public var parasiticOffset: SIMD2<Double> = [0.05, 0.08]
    /// How fast the parasitic wave's phase creeps, rad/s.
    public var parasiticPhaseRadPerSecond = 0.0
    /// Dust specks on a surface of the reference arm (static, in the reference hologram too).
    public var dustSpecks = 0
    /// Relative amplitude of the illumination drift: E_τ = E·(1 + A·sin(2πτ/T) + A·sin(2πτ/1.7T)·x),
    /// x from −1 (left edge) to 1 (right edge), T = ``illuminationPeriodSeconds``.
    public var illuminationDrift = 0.0
    /// Period of the illumination drift, s.
    public var illuminationPeriodSeconds = 20.0
    /// Age of the reference hologram when the first frame is taken, s (it was recorded before
    /// the sample flowed): the drifts below have run for this long at frame 0.
    public var referenceAgeSeconds = 0.0
    /// Growth of the phase tilt between the arms, rad peak-to-valley over the field per minute.
    public var tiltRadPerMinute = 0.0
    /// Growth of the defocus (quadratic) phase between the arms, rad peak-to-valley per minute.
    public var focusRadPerMinute = 0.0

    public init() {}

    /// No effect at all: the hologram is the ideal one.
    public var isIdeal: Bool {
        parasiticAmplitude == 0 && dustSpecks == 0 && illuminationDrift == 0 && tiltRadPerMinute == 0 && focusRadPerMinute == 0
    }

    /// Why the arm cannot be simulated; `nil` when it is fine.
    func validationError() -> String? {
        if !(parasiticAmplitude >= 0 && parasiticAmplitude <= 0.3) { return "parasitic fringe amplitude must be in 0–0.3" }
        if !(0...50).contains(dustSpecks) { return "dust specks must be 0–50" }
        if !(illuminationDrift >= 0 && illuminationDrift <= 0.3) { return "illumination drift must be in 0–0.3" }
        if !(illuminationPeriodSeconds > 0) { return "illumination drift period must be positive" }
        if !(referenceAgeSeconds >= 0) { return "reference age must not be negative" }
        if !(abs(tiltRadPerMinute) <= 100 && abs(focusRadPerMinute) <= 100 && abs(parasiticPhaseRadPerSecond) <= 100) {
            return "reference drift rates must be at most 100 rad per minute (tilt, focus) or per second (parasitic phase)"
        }
        return nil
    }
}
