/// Puts results that finish out of order (workers run in parallel) back into ordinal order.
///
/// Every ordinal from 0 up must be inserted exactly once (a rejected frame is inserted as an
/// empty result), so the buffer never waits forever; it holds at most as many results as
/// frames are in flight (queue capacity + workers + frames buffered for a reference).
struct ReorderBuffer<Element> {
    /// The ordinal the buffer releases next.
    private(set) var next: UInt64 = 0
    private var pending: [UInt64: Element] = [:]

    /// Results waiting for an earlier ordinal.
    var waiting: Int { pending.count }

    /// Adds the result for `ordinal` and returns every result that is now in order: none while
    /// an earlier ordinal is missing, several when this one filled the gap.
    mutating func insert(_ element: Element, ordinal: UInt64) -> [Element] {
        precondition(ordinal >= next && pending[ordinal] == nil, "ordinal \(ordinal) inserted twice")
        pending[ordinal] = element
        var ready: [Element] = []
        while let element = pending.removeValue(forKey: next) {
            ready.append(element)
            next += 1
        }
        return ready
    }

    /// Releases whatever is still waiting, in order, skipping the missing ordinals (at shutdown).
    mutating func drain() -> [Element] {
        let ready = pending.sorted { $0.key < $1.key }.map(\.value)
        if let last = pending.keys.max() { next = last + 1 }
        pending.removeAll()
        return ready
    }
}
