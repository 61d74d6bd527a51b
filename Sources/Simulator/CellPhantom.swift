import Foundation

/// A cell as a 3-D refractive-index object: n(x, y, z) = n_medium + Σᵢ Δnᵢ · 1[inside body i].
///
/// Its optical path delay is the z-integral of the contrast, OPD(x, y) = Σᵢ Δnᵢ · tᵢ(x, y), where
/// tᵢ is the thickness of body i along the optical axis. Bodies nest (cell ⊃ nucleus ⊃ nucleoli), so
/// the Δn of an inner body is its contrast over the body around it. Coordinates are µm from the
/// cell's centre, x along the flow.
public struct CellPhantom: Sendable {
    /// One body of the refractive-index object.
    public enum Body: Sendable {
        /// Ellipsoid with in-plane semi-axes a, b (rotated by `angle`, rad) and half-height c:
        /// t = 2c·√(1 − (x'/a)² − (y'/b)²).
        case ellipsoid(x: Double, y: Double, a: Double, b: Double, c: Double, angle: Double, deltaN: Double)
        /// A thin cylinder along a polyline with tapering radius (sperm midpiece and tail):
        /// t = 2√(r² − d²), d the distance to the polyline; overlapping segments do not add.
        case tube(points: [SIMD2<Double>], radii: [Double], deltaN: Double)
        /// Granular texture: a Gaussian refractive-index blob of width σ (µm) inside the body of
        /// `host` (an index into `bodies`), adding Δn · t_host · exp(−r²/2σ²).
        case grain(x: Double, y: Double, sigma: Double, deltaN: Double, host: Int)
    }

    public var cellClass: CellClass
    public var bodies: [Body]
    /// Radius of a circle around the centre that contains the whole cell, µm.
    public var extentUm: Double
    /// Half of the object's height along the optical axis, µm: how close its centre can come to
    /// a channel wall.
    public var halfHeightUm: Double
    /// The generative parameters a labelled cell was drawn with (`nil` for other objects).
    public var hidden: PhantomParameters?

    public init(cellClass: CellClass, bodies: [Body], extentUm: Double, halfHeightUm: Double = 0, hidden: PhantomParameters? = nil) {
        self.cellClass = cellClass
        self.bodies = bodies
        self.extentUm = extentUm
        self.halfHeightUm = halfHeightUm
        self.hidden = hidden
    }

    /// The same object turned in the image plane by `angle` (rad, counter-clockwise) about its
    /// centre: every body's centre, orientation and polyline turn with it.
    public func rotated(by angle: Double) -> CellPhantom {
        let c = cos(angle), s = sin(angle)
        func turn(_ p: SIMD2<Double>) -> SIMD2<Double> { SIMD2(p.x * c - p.y * s, p.x * s + p.y * c) }
        let turned = bodies.map { body -> Body in
            switch body {
            case let .ellipsoid(x, y, a, b, h, bodyAngle, dn):
                let p = turn(SIMD2(x, y))
                return .ellipsoid(x: p.x, y: p.y, a: a, b: b, c: h, angle: bodyAngle + angle, deltaN: dn)
            case let .tube(points, radii, dn):
                return .tube(points: points.map(turn), radii: radii, deltaN: dn)
            case let .grain(x, y, sigma, dn, host):
                let p = turn(SIMD2(x, y))
                return .grain(x: p.x, y: p.y, sigma: sigma, deltaN: dn, host: host)
            }
        }
        return CellPhantom(cellClass: cellClass, bodies: turned, extentUm: extentUm, halfHeightUm: halfHeightUm, hidden: hidden)
    }
}

extension CellPhantom {
    /// Renders the OPD map on a grid of `pixelUm`, with the refractive-index boundaries softened
    /// by a Gaussian of `edgeSoftnessUm` (the membrane–cortex transition, and what an objective
    /// would resolve anyway; without it a sharp ellipsoid edge has an infinite OPD slope that no
    /// band-limited instrument can reproduce).
    public func render(pixelUm: Double, edgeSoftnessUm: Double) -> OPDPatch {
        let margin = 3 * edgeSoftnessUm + 2 * pixelUm
        let center = Int(((extentUm + margin) / pixelUm).rounded(.up))
        let size = 2 * center + 1
        var thickness = [[Double]](repeating: [], count: bodies.count)
        var opd = [Double](repeating: 0, count: size * size)
        for (index, body) in bodies.enumerated() {
            switch body {
            case let .ellipsoid(cx, cy, a, b, c, angle, deltaN):
                var t = [Double](repeating: 0, count: size * size)
                let cosA = cos(angle), sinA = sin(angle)
                let reach = max(a, b)
                let (x0, x1) = pixelRange(cx, reach, center, size, pixelUm)
                let (y0, y1) = pixelRange(cy, reach, center, size, pixelUm)
                for py in y0..<max(y0, y1) {
                    let y = Double(py - center) * pixelUm - cy
                    for px in x0..<max(x0, x1) {
                        let x = Double(px - center) * pixelUm - cx
                        let u = (x * cosA + y * sinA) / a
                        let v = (-x * sinA + y * cosA) / b
                        let q = 1 - u * u - v * v
                        if q > 0 { t[py * size + px] = 2 * c * q.squareRoot() }
                    }
                }
                for i in t.indices where t[i] > 0 { opd[i] += deltaN * t[i] }
                thickness[index] = t
            case let .tube(points, radii, deltaN):
                var t = [Double](repeating: 0, count: size * size)
                for s in 0..<(points.count - 1) {
                    let p = points[s], q = points[s + 1]
                    let r = max(radii[s], radii[s + 1])
                    let (x0, x1) = pixelRange(min(p.x, q.x) - r, 0, center, size, pixelUm, upper: max(p.x, q.x) + r)
                    let (y0, y1) = pixelRange(min(p.y, q.y) - r, 0, center, size, pixelUm, upper: max(p.y, q.y) + r)
                    let d = q - p
                    let length2 = max((d * d).sum(), 1e-12)
                    for py in y0..<max(y0, y1) {
                        for px in x0..<max(x0, x1) {
                            let point = SIMD2(Double(px - center) * pixelUm, Double(py - center) * pixelUm)
                            let f = min(max(((point - p) * d).sum() / length2, 0), 1)
                            let radius = radii[s] + f * (radii[s + 1] - radii[s])
                            let e = point - (p + f * d)
                            let q2 = radius * radius - (e * e).sum()
                            if q2 > 0 { t[py * size + px] = max(t[py * size + px], 2 * q2.squareRoot()) }
                        }
                    }
                }
                for i in t.indices where t[i] > 0 { opd[i] += deltaN * t[i] }
                thickness[index] = t
            case let .grain(gx, gy, sigma, deltaN, host):
                let t = thickness[host]
                let (x0, x1) = pixelRange(gx, 3 * sigma, center, size, pixelUm)
                let (y0, y1) = pixelRange(gy, 3 * sigma, center, size, pixelUm)
                let k = -0.5 / (sigma * sigma)
                for py in y0..<max(y0, y1) {
                    let y = Double(py - center) * pixelUm - gy
                    for px in x0..<max(x0, x1) where t[py * size + px] > 0 {
                        let x = Double(px - center) * pixelUm - gx
                        opd[py * size + px] += deltaN * t[py * size + px] * exp(k * (x * x + y * y))
                    }
                }
            }
        }
        let smooth = GaussianBlur(sigmaPixels: edgeSoftnessUm / pixelUm).apply(opd, width: size, height: size)
        // µm of path difference → nm.
        return OPDPatch(size: size, center: center, opdNm: smooth.map { Float($0 * 1000) })
    }

    /// Pixel index range [lo, hi) covering centre ± reach (µm), clamped to the patch.
    private func pixelRange(
        _ c: Double, _ reach: Double, _ center: Int, _ size: Int, _ pixelUm: Double, upper: Double? = nil
    ) -> (Int, Int) {
        let lo = Int(((c - reach) / pixelUm).rounded(.down)) + center
        let hi = Int((((upper ?? c) + reach) / pixelUm).rounded(.up)) + center + 1
        return (max(0, lo), min(size, hi))
    }
}
