/// 8-connected component labelling of a rectangular region by the two-pass union–find
/// algorithm (Rosenfeld & Pfaltz 1966), with per-component bounding box and pixel count.
struct ConnectedComponents {
    struct Component {
        var x0: Int, y0: Int, x1: Int, y1: Int  // inclusive bounds, region coordinates
        var count: Int
    }

    private var parent: [Int32] = []
    private var dense: [Int32] = []

    private mutating func find(_ i: Int32) -> Int32 {
        var i = i
        while parent[Int(i)] != i {
            parent[Int(i)] = parent[Int(parent[Int(i)])]
            i = parent[Int(i)]
        }
        return i
    }

    private mutating func union(_ a: Int32, _ b: Int32) -> Int32 {
        let ra = find(a), rb = find(b)
        if ra == rb { return ra }
        let (lo, hi) = ra < rb ? (ra, rb) : (rb, ra)
        parent[Int(hi)] = lo
        return lo
    }

    /// Labels pixels where `inside(x, y)` holds in a `width × height` region; `labels` (region
    /// row-major, `stride` apart) receives 1-based component ids, 0 elsewhere.
    mutating func label(
        width: Int, height: Int, labels: UnsafeMutablePointer<Int32>, stride: Int, inside: (Int, Int) -> Bool
    ) -> [Component] {
        parent.removeAll(keepingCapacity: true)
        parent.append(0)
        for y in 0..<height {
            let row = labels + y * stride
            let above = y > 0 ? labels + (y - 1) * stride : nil
            for x in 0..<width {
                guard inside(x, y) else { row[x] = 0; continue }
                var l: Int32 = 0
                if x > 0, row[x - 1] != 0 { l = row[x - 1] }
                if let above {
                    for dx in -1...1 where x + dx >= 0 && x + dx < width {
                        let n = above[x + dx]
                        if n != 0 { l = l == 0 ? n : union(l, n) }
                    }
                }
                if l == 0 {
                    l = Int32(parent.count)
                    parent.append(l)
                }
                row[x] = l
            }
        }
        // Second pass: resolve to roots, renumber densely, collect boxes.
        dense.removeAll(keepingCapacity: true)
        dense.append(contentsOf: repeatElement(0, count: parent.count))
        var components: [Component] = []
        for y in 0..<height {
            let row = labels + y * stride
            for x in 0..<width where row[x] != 0 {
                let root = Int(find(row[x]))
                if dense[root] == 0 {
                    components.append(Component(x0: x, y0: y, x1: x, y1: y, count: 0))
                    dense[root] = Int32(components.count)
                }
                let id = dense[root]
                row[x] = id
                let k = Int(id) - 1
                components[k].x0 = min(components[k].x0, x)
                components[k].x1 = max(components[k].x1, x)
                components[k].y1 = y
                components[k].count += 1
            }
        }
        return components
    }
}
