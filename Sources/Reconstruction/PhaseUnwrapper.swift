/// 2-D phase unwrapping of one cell region, in place.
///
/// First the residues are counted: points where the wrapped differences around a 2 × 2 loop do
/// not sum to zero (Goldstein, Zebker & Werner 1988). Without residues the unwrapped phase is
/// path independent, so simple path following (Itoh's 1-D rule down the first column, then
/// along each row) is exact and costs one pass. With residues (noise, or a phase step steeper
/// than π per pixel) the path matters, and the quality-guided algorithm of Herráez, Burton,
/// Lalor & Gdeisat (Appl. Opt. 41, 7437, 2002) is used: pixels are joined along the most
/// reliable edges first, reliability being the inverse second difference, so errors are pushed
/// to the least reliable places instead of being dragged across the cell.
struct PhaseUnwrapper {
    private var reliability: [Float] = []
    private var edges: [(Float, Int32, Int32)] = []
    private var group: [Int32] = []
    private var next: [Int32] = []
    private var tail: [Int32] = []
    private var size: [Int32] = []
    private var turns: [Int32] = []

    private static let twoPi = 2 * Float.pi

    /// Number of residues of the wrapped phase `p` (width × height, rad).
    static func residues(_ p: UnsafeMutablePointer<Float>, width: Int, height: Int) -> Int {
        var count = 0
        for y in 0..<(height - 1) {
            let r0 = p + y * width, r1 = r0 + width
            for x in 0..<(width - 1) {
                let s = FastMath.wrap(r0[x + 1] - r0[x]) + FastMath.wrap(r1[x + 1] - r0[x + 1])
                    + FastMath.wrap(r1[x] - r1[x + 1]) + FastMath.wrap(r0[x] - r1[x])
                if abs(s) > Float.pi { count += 1 }
            }
        }
        return count
    }

    /// Unwraps `p` in place; returns the number of residues (0 = the fast path was exact).
    mutating func unwrap(_ p: UnsafeMutablePointer<Float>, width: Int, height: Int) -> Int {
        guard width > 1, height > 1 else { return 0 }
        let residues = Self.residues(p, width: width, height: height)
        if residues == 0 {
            for y in 1..<height {
                p[y * width] = p[(y - 1) * width] + FastMath.wrap(p[y * width] - p[(y - 1) * width])
            }
            for y in 0..<height {
                let row = p + y * width
                for x in 1..<width { row[x] = row[x - 1] + FastMath.wrap(row[x] - row[x - 1]) }
            }
        } else {
            reliabilityGuided(p, width: width, height: height)
        }
        return residues
    }

    /// Herráez et al. 2002: reliability-sorted edge merging.
    private mutating func reliabilityGuided(_ p: UnsafeMutablePointer<Float>, width: Int, height: Int) {
        let n = width * height
        reliability = [Float](repeating: 0, count: n)
        for y in 1..<(height - 1) {
            for x in 1..<(width - 1) {
                let i = y * width + x
                @inline(__always) func second(_ a: Int, _ b: Int) -> Float {
                    FastMath.wrap(p[a] - p[i]) - FastMath.wrap(p[i] - p[b])
                }
                let h = second(i - 1, i + 1), v = second(i - width, i + width)
                let d1 = second(i - width - 1, i + width + 1), d2 = second(i - width + 1, i + width - 1)
                let d = (h * h + v * v + d1 * d1 + d2 * d2).squareRoot()
                reliability[i] = 1 / (d + 1e-6)
            }
        }
        edges.removeAll(keepingCapacity: true)
        for y in 0..<height {
            for x in 0..<width {
                let i = y * width + x
                if x + 1 < width { edges.append((reliability[i] + reliability[i + 1], Int32(i), Int32(i + 1))) }
                if y + 1 < height { edges.append((reliability[i] + reliability[i + width], Int32(i), Int32(i + width))) }
            }
        }
        edges.sort { $0.0 > $1.0 }
        // Groups as linked lists: group[i] = representative, next[i] = next member, turns[i] =
        // multiples of 2π added to pixel i.
        group = (0..<Int32(n)).map { $0 }
        next = [Int32](repeating: -1, count: n)
        tail = (0..<Int32(n)).map { $0 }
        size = [Int32](repeating: 1, count: n)
        turns = [Int32](repeating: 0, count: n)
        for (_, a, b) in edges {
            let ga = group[Int(a)], gb = group[Int(b)]
            if ga == gb { continue }
            // Turns that put b within π of a.
            let va = p[Int(a)] + Self.twoPi * Float(turns[Int(a)])
            let vb = p[Int(b)] + Self.twoPi * Float(turns[Int(b)])
            let k = Int32(((va - vb) / Self.twoPi).rounded())
            // Move the smaller group into the larger one, shifting the smaller by ±k turns.
            let (keep, move, shift) = size[Int(ga)] >= size[Int(gb)] ? (ga, gb, k) : (gb, ga, -k)
            var m = move
            while m != -1 {
                turns[Int(m)] += shift
                group[Int(m)] = keep
                m = next[Int(m)]
            }
            next[Int(tail[Int(keep)])] = move
            tail[Int(keep)] = tail[Int(move)]
            size[Int(keep)] += size[Int(move)]
        }
        for i in 0..<n { p[i] += Self.twoPi * Float(turns[i]) }
    }
}
