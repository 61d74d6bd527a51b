/// Branch-light float kernels for the per-pixel loops, where libm calls would cost more than
/// everything else together.
enum FastMath {
    /// atan2(y, x) in (−π, π], absolute error < 2e-6 rad (≈ 2e-4 nm of OPD at 633 nm).
    ///
    /// Reduces to atan(t) with t = min/max ∈ [0, 1], evaluated by a degree-15 odd minimax
    /// polynomial, then restores the octant.
    @inline(__always)
    static func atan2(_ y: Float, _ x: Float) -> Float {
        let ax = abs(x), ay = abs(y)
        let mx = max(ax, ay), mn = min(ax, ay)
        let t = mx > 0 ? mn / mx : 0
        let s = t * t
        var p: Float = -0.0040540580
        p = p * s + 0.0218612288
        p = p * s - 0.0559098861
        p = p * s + 0.0964200441
        p = p * s - 0.1390853351
        p = p * s + 0.1994653599
        p = p * s - 0.3332985605
        p = p * s + 0.9999993329
        var r = p * t
        if ay > ax { r = Float.pi / 2 - r }
        if x < 0 { r = Float.pi - r }
        return y < 0 ? -r : r
    }

    /// x wrapped into [−π, π] (for |x| < 2²¹ turns).
    @inline(__always)
    static func wrap(_ x: Float) -> Float {
        x - 2 * Float.pi * roundToNearest(x * (0.5 / Float.pi))
    }

    /// Nearest integer (ties to even) for |x| < 2²², by adding and subtracting 1.5·2²³: the
    /// float addition itself rounds. Unlike `rounded()`, which calls libm's `roundf` on
    /// baseline x86-64, this vectorises.
    @inline(__always)
    static func roundToNearest(_ x: Float) -> Float {
        let magic: Float = 12_582_912
        return (x + magic) - magic
    }
}
