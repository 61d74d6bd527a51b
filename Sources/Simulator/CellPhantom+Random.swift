import Foundation

extension CellPhantom {
    /// Draws one phantom of `cellClass` from its documented distribution (docs/simulator.md):
    /// labelled cells (and the two cells of a doublet) from the class-parameter set `parameters`,
    /// debris in `debris` style.
    public static func random(
        _ cellClass: CellClass, parameters: ClassParameters = .standard, debris style: DebrisStyle = .dense,
        using rng: inout SimulationRandom
    ) -> CellPhantom {
        switch cellClass {
        case .healthy, .primaryCancer, .metastaticCancer:
            return labelledCell(parameters.population(cellClass)!, cellClass, offset: .zero, using: &rng)
        case .sperm: return sperm(using: &rng)
        case .debris: return debris(style, using: &rng)
        case .doublet: return doublet(parameters, using: &rng)
        }
    }

    /// Ellipsoidal body, an off-centre nucleus, nucleoli inside it and cytoplasmic texture.
    static func labelledCell(
        _ p: CellPopulation, _ cellClass: CellClass, offset: SIMD2<Double>, using rng: inout SimulationRandom
    ) -> CellPhantom {
        let d = rng.normal(p.diameterUm)
        let aspect = rng.normal(p.aspect)
        // Equal-area ellipse: a·b = (d/2)².
        let a = d / 2 / aspect.squareRoot(), b = d / 2 * aspect.squareRoot()
        let heightRatio = rng.normal(p.heightRatio)
        let c = d / 2 * heightRatio
        let angle = rng.uniform(0, .pi)
        let dnCell = rng.normal(p.cytoplasmDeltaN)
        var bodies: [Body] = [.ellipsoid(x: offset.x, y: offset.y, a: a, b: b, c: c, angle: angle, deltaN: dnCell)]

        let ratio = rng.normal(p.nucleusRatio)
        let na = a * ratio, nb = b * ratio * rng.uniform(0.85, 1), nc = c * ratio
        // The nucleus sits off centre by up to a quarter of the free space around it.
        let shift = SIMD2(rng.uniform(-0.25, 0.25) * (a - na), rng.uniform(-0.25, 0.25) * (b - nb))
        let nucleus = offset + SIMD2(shift.x * cos(angle) - shift.y * sin(angle), shift.x * sin(angle) + shift.y * cos(angle))
        let dnNucleus = rng.normal(p.nucleusDeltaN)
        bodies.append(.ellipsoid(x: nucleus.x, y: nucleus.y, a: na, b: nb, c: nc, angle: angle + rng.uniform(-0.3, 0.3), deltaN: dnNucleus))

        let nucleoli = max(1, rng.poisson(p.nucleoliMean))
        var nucleolusDiameters = 0.0, nucleolusContrasts = 0.0
        for _ in 0..<nucleoli {
            let r = rng.normal(p.nucleolusDiameterUm) / 2
            let rho = rng.uniform(0, 0.55).squareRoot(), theta = rng.uniform(0, 2 * .pi)
            let x = nucleus.x + rho * (na - r) * cos(theta), y = nucleus.y + rho * (nb - r) * sin(theta)
            let dn = rng.normal(p.nucleolusDeltaN)
            (nucleolusDiameters, nucleolusContrasts) = (nucleolusDiameters + 2 * r, nucleolusContrasts + dn)
            bodies.append(.ellipsoid(x: x, y: y, a: r, b: r * rng.uniform(0.8, 1), c: r, angle: theta, deltaN: dn))
        }

        // Texture: random-sign Gaussian grains, about one per L², with amplitude σ/√π so that
        // the sum has standard deviation σ (Campbell's theorem).
        let sigmaTexture = rng.normal(p.textureDeltaN)
        let length = p.textureLengthUm
        let grains = Int((Double.pi * a * b) / (length * length))
        for _ in 0..<grains {
            let rho = rng.unit().squareRoot(), theta = rng.uniform(0, 2 * .pi)
            let u = rho * a * cos(theta), v = rho * b * sin(theta)
            let x = offset.x + u * cos(angle) - v * sin(angle), y = offset.y + u * sin(angle) + v * cos(angle)
            let sign: Double = rng.unit() < 0.5 ? -1 : 1
            bodies.append(.grain(x: x, y: y, sigma: length / 2, deltaN: sign * sigmaTexture / Double.pi.squareRoot() * 2, host: 0))
        }
        let extent = (offset * offset).sum().squareRoot() + max(a, b)
        let hidden = PhantomParameters(
            diameterUm: d, aspect: aspect, heightRatio: heightRatio, nucleusRatio: ratio, nucleoli: nucleoli,
            nucleolusDiameterUm: nucleolusDiameters / Double(nucleoli), cytoplasmDeltaN: dnCell, nucleusDeltaN: dnNucleus,
            nucleolusDeltaN: nucleolusContrasts / Double(nucleoli), textureDeltaN: sigmaTexture, textureLengthUm: length)
        return CellPhantom(cellClass: cellClass, bodies: bodies, extentUm: extent, halfHeightUm: c, hidden: hidden)
    }

    /// Human sperm: a flattened ellipsoidal head (≈ 4.6 × 2.8 × 1.2 µm), a 5 µm midpiece and a
    /// ≈ 45 µm tapering tail beating as a sine wave (the paper's unlabelled population).
    static func sperm(using rng: inout SimulationRandom) -> CellPhantom {
        let angle = rng.uniform(0, 2 * .pi)
        let axis = SIMD2(cos(angle), sin(angle)), normal = SIMD2(-sin(angle), cos(angle))
        let headA = rng.normal(2.3, 0.15, in: 1.8...2.8), headB = rng.normal(1.4, 0.1, in: 1.1...1.8)
        let headC = rng.normal(0.6, 0.06, in: 0.4...0.8)
        let dnHead = rng.normal(0.060, 0.006, in: 0.04...0.08)
        // The head's centre is the cell's centre; the flagellum leaves from its back end.
        var bodies: [Body] = [.ellipsoid(x: 0, y: 0, a: headA, b: headB, c: headC, angle: angle, deltaN: dnHead)]
        let start = -headA * 0.9 * axis
        let midLength = rng.normal(5, 0.4, in: 4...6)
        let midpiece = [start, start - midLength * axis]
        bodies.append(.tube(points: midpiece, radii: [0.45, 0.4], deltaN: rng.normal(0.035, 0.004, in: 0.02...0.05)))
        let tailLength = rng.normal(45, 3, in: 38...52)
        let amplitude = rng.uniform(1.5, 4), wavelength = rng.uniform(15, 25), phase = rng.uniform(0, 2 * .pi)
        let steps = 40
        var tail: [SIMD2<Double>] = []
        var radii: [Double] = []
        for i in 0...steps {
            let s = tailLength * Double(i) / Double(steps)
            // The beat amplitude grows along the tail, from zero at the midpiece.
            let lateral = amplitude * (s / tailLength) * sin(2 * .pi * s / wavelength + phase)
            tail.append(midpiece[1] - s * axis + lateral * normal)
            radii.append(0.3 - 0.15 * s / tailLength)
        }
        bodies.append(.tube(points: tail, radii: radii, deltaN: rng.normal(0.035, 0.004, in: 0.02...0.05)))
        let extent = tail.map { ($0 * $0).sum().squareRoot() }.max()! + 0.5
        return CellPhantom(cellClass: .sperm, bodies: bodies, extentUm: extent, halfHeightUm: max(headC, 0.45))
    }

    /// Debris: a cluster of small irregular fragments. `dense`: one to four fragments of
    /// 1–4 µm, Δn 0.02–0.08 (up to ≈ 300 nm of OPD, as dense as a cell's nucleus);
    /// `faint`: two to six fragments of 0.6–3 µm, Δn 0.005–0.02 (≤ 60 nm, typically 10–30 nm:
    /// cell fragments and precipitates at about a tenth of a cell's phase).
    static func debris(_ style: DebrisStyle, using rng: inout SimulationRandom) -> CellPhantom {
        let (fragments, radii, spread, contrasts): (Int, ClosedRange<Double>, Double, ClosedRange<Double>) =
            switch style {
            case .dense: (1 + Int(rng.unit() * 4), 0.5...2, 1.5, 0.02...0.08)
            case .faint: (2 + Int(rng.unit() * 5), 0.3...1.5, 2, 0.005...0.02)
            }
        var bodies: [Body] = []
        var extent = 0.0, halfHeight = 0.0
        for _ in 0..<fragments {
            let r = rng.uniform(radii.lowerBound, radii.upperBound)
            let x = rng.uniform(-spread, spread), y = rng.uniform(-spread, spread)
            let b = r * rng.uniform(0.5, 1)
            let angle = rng.uniform(0, .pi), dn = rng.uniform(contrasts.lowerBound, contrasts.upperBound)
            bodies.append(.ellipsoid(x: x, y: y, a: r, b: b, c: b, angle: angle, deltaN: dn))
            extent = max(extent, (x * x + y * y).squareRoot() + r)
            halfHeight = max(halfHeight, b)
        }
        return CellPhantom(cellClass: .debris, bodies: bodies, extentUm: extent, halfHeightUm: halfHeight)
    }

    /// Doublet: two labelled cells in contact (centre distance 0.68–0.86 of the sum of extents),
    /// which a cytometer must not count as two separate single cells of their classes.
    static func doublet(_ parameters: ClassParameters, using rng: inout SimulationRandom) -> CellPhantom {
        let classes = CellClass.labelled
        let first = classes[Int(rng.unit() * 3)], second = classes[Int(rng.unit() * 3)]
        var one = labelledCell(parameters.population(first)!, .doublet, offset: .zero, using: &rng)
        let theta = rng.uniform(0, 2 * .pi)
        let probe = labelledCell(parameters.population(second)!, .doublet, offset: .zero, using: &rng)
        let distance = rng.uniform(0.68, 0.86) * (one.extentUm + probe.extentUm)
        let offset = SIMD2(distance * cos(theta), distance * sin(theta))
        let two = probe.translated(by: offset, hostBase: one.bodies.count)
        // Centre the pair on its midpoint.
        one.bodies += two.bodies
        let centred = one.translated(by: -offset / 2, hostBase: 0)
        return CellPhantom(
            cellClass: .doublet, bodies: centred.bodies, extentUm: distance / 2 + max(one.extentUm, probe.extentUm),
            halfHeightUm: max(one.halfHeightUm, probe.halfHeightUm))
    }

    /// The same phantom moved by `offset` µm; grain hosts are renumbered by `hostBase`.
    func translated(by offset: SIMD2<Double>, hostBase: Int) -> CellPhantom {
        let moved = bodies.map { body -> Body in
            switch body {
            case let .ellipsoid(x, y, a, b, c, angle, dn):
                return .ellipsoid(x: x + offset.x, y: y + offset.y, a: a, b: b, c: c, angle: angle, deltaN: dn)
            case let .tube(points, radii, dn):
                return .tube(points: points.map { $0 + offset }, radii: radii, deltaN: dn)
            case let .grain(x, y, sigma, dn, host):
                return .grain(x: x + offset.x, y: y + offset.y, sigma: sigma, deltaN: dn, host: host + hostBase)
            }
        }
        return CellPhantom(
            cellClass: cellClass, bodies: moved, extentUm: extentUm + (offset * offset).sum().squareRoot(), halfHeightUm: halfHeightUm,
            hidden: hidden)
    }
}
