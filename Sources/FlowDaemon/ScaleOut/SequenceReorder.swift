/// Puts one camera's frames back in `seq` order when workers return them out of order, and
/// gives up a frame no worker returned: a frame that never comes back is lost by reason, never
/// a silent gap, and never stalls the camera.
///
/// The rule: frames leave in `seq` order; when the oldest frame waiting has waited
/// `timeoutNanoseconds` for an earlier one, every `seq` missing before the earliest waiting
/// frame is given up (``Release/lost(seqs:count:)``) and the frames behind it leave. After a
/// worker dies, the first timeout releases everything that piled up behind its first missing
/// frame at once (its later frames have been waiting as long), so the camera's latency returns
/// to normal after one timeout, not one per lost frame. A frame arriving after its `seq` was
/// given up is ``Release/late(seq:)``; one arriving twice is ``Release/duplicate(seq:)``.
///
/// The start: `seq` 0 is the first frame (cameras count from 0); a camera starting elsewhere
/// starts at its smallest `seq` seen once the first frame has waited the timeout.
struct SequenceReorder<Element> {
    enum Release {
        /// The next frame in order, with its place counted from the camera's first `seq`.
        case frame(ordinal: UInt64, seq: UInt64, Element)
        /// `count` frames (`seqs`, half-open) no worker returned within the timeout.
        case lost(seqs: Range<UInt64>, count: UInt64)
        case late(seq: UInt64)
        case duplicate(seq: UInt64)
    }

    let timeoutNanoseconds: UInt64
    /// The camera's first `seq`, once known.
    private(set) var first: UInt64?
    /// The `seq` that leaves next, once known.
    private(set) var next: UInt64?
    /// Frames waiting for an earlier `seq`, with their arrival (monotonic ns).
    private var pending: [UInt64: (element: Element, arrival: UInt64)] = [:]

    init(timeoutNanoseconds: UInt64) {
        self.timeoutNanoseconds = timeoutNanoseconds
    }

    /// Frames waiting for an earlier one.
    var waiting: Int { pending.count }

    /// Adds the frame `seq` arrived at `now` and returns what may leave.
    mutating func insert(_ element: Element, seq: UInt64, at now: UInt64) -> [Release] {
        if let next, seq < next { return [.late(seq: seq)] }
        guard pending[seq] == nil else { return [.duplicate(seq: seq)] }
        pending[seq] = (element, now)
        if next == nil, seq == 0 { start(at: 0) }
        return releaseInOrder() + expire(at: now)
    }

    /// What may leave at `now` because the oldest waiting frame has waited the timeout; call it
    /// also when nothing arrives (the aggregator does every 100 ms).
    mutating func expire(at now: UInt64) -> [Release] {
        var released: [Release] = []
        while let oldest = pending.values.map(\.arrival).min(), now &- oldest >= timeoutNanoseconds {
            released += skipToEarliest()
        }
        return released
    }

    /// At shutdown: everything still waiting leaves in order, the gaps before it given up.
    mutating func drain() -> [Release] {
        var released: [Release] = []
        while !pending.isEmpty { released += skipToEarliest() }
        return released
    }

    private mutating func start(at seq: UInt64) {
        first = seq
        next = seq
    }

    /// Gives up the missing `seq`s before the earliest waiting frame and releases from there.
    private mutating func skipToEarliest() -> [Release] {
        guard let earliest = pending.keys.min() else { return [] }
        guard let next else {
            start(at: earliest)
            return releaseInOrder()
        }
        return [.lost(seqs: next..<earliest, count: earliest - next)] + {
            self.next = earliest
            return releaseInOrder()
        }()
    }

    private mutating func releaseInOrder() -> [Release] {
        guard var seq = next, let first else { return [] }
        var released: [Release] = []
        while let (element, _) = pending.removeValue(forKey: seq) {
            released.append(.frame(ordinal: seq &- first, seq: seq, element))
            seq &+= 1  // wraps only past UInt64.max, a camera that would count for 3000 years
        }
        next = seq
        return released
    }
}
