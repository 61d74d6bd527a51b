import Synchronization

/// Which sign the reconstructed phase gets (`reconstruction.phase_sign`, `--phase-sign`).
///
/// flowd takes the +1 order from the spectrum's kx > 0 half plane. Whether that order carries
/// exp(+iφ) or exp(−iφ) depends on the rig (the reference's tilt direction, a mirror in the
/// camera path): on the other kind of rig every cell comes out as a negative object, and since
/// cells are optically denser than their medium (n_cell > n_medium, so OPD > 0), the data say
/// which kind of rig it is. `auto` decides from the first hologram that shows an object
/// (``PhaseSignState``); `asIs` and `inverted` fix the sign.
public enum PhaseSign: String, Sendable, CaseIterable, Equatable {
    case auto
    case asIs = "as-is"
    case inverted
}

/// One camera's phase sign: fixed by the setting, or decided once by the data (`auto`).
///
/// Shared by the workers of one camera (thread-safe): every worker reconstructs with the
/// current decision; while undecided, each frame votes (``vote(opd:count:thresholdNm:minimumPixels:)``)
/// and the first decisive vote settles it for the rest of the run. A frame reconstructed while
/// undecided showed no object large enough to vote, so it lost nothing by the sign it got.
public final class PhaseSignState: Sendable {
    public let setting: PhaseSign
    /// 0 undecided, 1 as-is, 2 inverted.
    private let state: Atomic<UInt8>
    /// Whether ``newDecision()`` has returned the decision.
    private let announced = Atomic(false)

    public init(_ setting: PhaseSign) {
        self.setting = setting
        state = Atomic(setting == .inverted ? 2 : setting == .asIs ? 1 : 0)
    }

    /// The sign in use: `.asIs` or `.inverted`, or `nil` while `auto` has not decided yet.
    public var decided: PhaseSign? {
        switch state.load(ordering: .acquiring) {
        case 1: .asIs
        case 2: .inverted
        default: nil
        }
    }

    /// The decision `auto` made, the first time it is asked for after it was made (for the one
    /// log line that says so); `nil` otherwise, and always for a fixed setting.
    public func newDecision() -> PhaseSign? {
        guard setting == .auto, let decided, !announced.exchange(true, ordering: .acquiringAndReleasing) else { return nil }
        return decided
    }

    /// −1 when the phase is inverted, +1 otherwise (also while undecided).
    var factor: Float { decided == .inverted ? -1 : 1 }

    /// Records `decision` unless one was made before; returns whether this call made it.
    @discardableResult
    func decide(_ decision: PhaseSign) -> Bool {
        precondition(decision != .auto)
        return state.compareExchange(expected: 0, desired: decision == .inverted ? 2 : 1, ordering: .acquiringAndReleasing).exchanged
    }

    /// The sign that objects with these sums ask for, or `nil` when they show too little to
    /// tell: `signed` and `absolute` are the sums of OPD and |OPD| over the `pixels` pixels of
    /// unwrapped object regions further than the detection threshold from the background, i.e.
    /// the objects' phase volume, positive for cells (and so out of focus too: propagation
    /// conserves the field's mean). At least `minimumPixels` (one small cell's area) are needed,
    /// and the signed sum must be at least a third of the absolute one, so that noise and faint
    /// rings never decide.
    static func vote(signed: Double, absolute: Double, pixels: Int, minimumPixels: Int) -> PhaseSign? {
        guard pixels >= minimumPixels, abs(signed) >= absolute / 3 else { return nil }
        return signed > 0 ? .asIs : .inverted
    }
}
