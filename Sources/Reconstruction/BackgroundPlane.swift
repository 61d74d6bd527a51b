import Foundation

/// Residual tilt and offset of the background phase, φ_bg(x, y) = a + b·x + c·y (rad, x and y
/// in field-grid pixels), fitted by least squares to background pixels.
///
/// The reference division removes the rig's aberrations; what remains is a small offset and tilt
/// (drift between reference and frame, a slightly different flow-cell pressure). The fit runs on
/// a sparse grid of at most 64 × 64 samples: first the circular mean gives the offset, then two
/// least-squares passes on the wrapped residual, keeping only samples within ±0.5 rad and then
/// ±0.15 rad of the plane (≈ 15 nm at 633 nm, many times the noise), so that cells and their
/// faint edges do not pull the plane.
public struct BackgroundPlane: Sendable, Equatable {
    public var a: Float = 0
    public var b: Float = 0
    public var c: Float = 0
    /// RMS of the background samples within ±0.5 rad of the plane, rad: what a plane cannot
    /// remove (noise, and the curvature a drifted reference leaves: a focus change between the
    /// reference and the frame).
    public var residualRms: Float = 0

    public init(a: Float = 0, b: Float = 0, c: Float = 0, residualRms: Float = 0) {
        self.a = a
        self.b = b
        self.c = c
        self.residualRms = residualRms
    }

    @inline(__always) func value(x: Float, y: Float) -> Float { a + b * x + c * y }

    /// Fits the plane to the wrapped phase `phase` (rows × cols, rad).
    static func fit(phase: UnsafePointer<Float>, rows: Int, cols: Int) -> BackgroundPlane {
        let step = max(1, min(rows, cols) / 64)
        // The circular mean needs fewer samples than the fit: every other one of the grid.
        var sumCos: Float = 0, sumSin: Float = 0
        var y = step / 2
        while y < rows {
            var x = step / 2
            while x < cols {
                let p = phase[y * cols + x]
                sumCos += cosf(p)
                sumSin += sinf(p)
                x += 2 * step
            }
            y += 2 * step
        }
        var plane = BackgroundPlane(a: FastMath.atan2(sumSin, sumCos))
        for window: Float in [0.5, 0.15] {
            // Normal equations of r = da + db·x + dc·y over the accepted samples (Double sums).
            var n = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0, sr = 0.0, sxr = 0.0, syr = 0.0
            var y = step / 2
            while y < rows {
                var x = step / 2
                let yf = Float(y)
                while x < cols {
                    let r = FastMath.wrap(phase[y * cols + x] - plane.value(x: Float(x), y: yf))
                    if abs(r) < window {
                        let xd = Double(x), yd = Double(y), rd = Double(r)
                        n += 1; sx += xd; sy += yd; sxx += xd * xd; syy += yd * yd; sxy += xd * yd
                        sr += rd; sxr += xd * rd; syr += yd * rd
                    }
                    x += step
                }
                y += step
            }
            guard n >= 3 else { break }
            // Solve the 3 × 3 system by Cramer's rule.
            let m = [[n, sx, sy], [sx, sxx, sxy], [sy, sxy, syy]]
            let det = determinant(m)
            guard abs(det) > 1e-9 else { break }
            let rhs = [sr, sxr, syr]
            var solution = [0.0, 0.0, 0.0]
            for k in 0..<3 {
                var mk = m
                for row in 0..<3 { mk[row][k] = rhs[row] }
                solution[k] = determinant(mk) / det
            }
            plane.a += Float(solution[0])
            plane.b += Float(solution[1])
            plane.c += Float(solution[2])
        }
        var sum: Double = 0, count = 0
        var yy = step / 2
        while yy < rows {
            var x = step / 2
            while x < cols {
                let r = FastMath.wrap(phase[yy * cols + x] - plane.value(x: Float(x), y: Float(yy)))
                if abs(r) < 0.5 {
                    sum += Double(r * r)
                    count += 1
                }
                x += step
            }
            yy += step
        }
        plane.residualRms = count > 0 ? Float((sum / Double(count)).squareRoot()) : 0
        return plane
    }

    private static func determinant(_ m: [[Double]]) -> Double {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    }
}
