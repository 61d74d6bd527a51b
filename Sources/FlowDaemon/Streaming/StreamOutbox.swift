import NATS

/// The cells waiting for the JetStream stream, oldest first, bounded in number and age: while
/// NATS is away the rig keeps counting and the outbox keeps the newest `capacity` cells of the
/// last `maxAgeNanoseconds`; whatever falls out is counted, never silently dropped.
///
/// Not thread-safe: ``CellStream`` guards it with its lock.
struct StreamOutbox {
    struct Entry {
        var message: NATSConnection.Message
        /// When it was queued, monotonic ns.
        var queuedAt: UInt64
        /// Its place in the order of queueing (1, 2, …).
        var sequence: UInt64
    }

    let capacity: Int
    let maxAgeNanoseconds: UInt64
    private var entries: [Entry] = []
    private var head = 0
    private var lastSequence: UInt64 = 0
    /// Given up because the outbox was full (the oldest make room) or too old to send.
    private(set) var lostFull = 0
    private(set) var lostTooOld = 0

    init(capacity: Int, maxAgeNanoseconds: UInt64) {
        self.capacity = capacity
        self.maxAgeNanoseconds = maxAgeNanoseconds
    }

    var count: Int { entries.count - head }

    mutating func append(_ message: NATSConnection.Message, at now: UInt64) {
        if count == capacity {
            head += 1
            lostFull += 1
        }
        lastSequence += 1
        entries.append(Entry(message: message, queuedAt: now, sequence: lastSequence))
        compact()
    }

    /// Up to `limit` of the oldest messages and the sequence of the last of them, after giving
    /// up those older than the maximum age.
    mutating func oldest(_ limit: Int, at now: UInt64) -> (messages: [NATSConnection.Message], through: UInt64) {
        while head < entries.count, now &- entries[head].queuedAt > maxAgeNanoseconds {
            head += 1
            lostTooOld += 1
        }
        compact()
        let batch = entries[head..<min(entries.count, head + limit)]
        return (batch.map(\.message), batch.last?.sequence ?? 0)
    }

    /// Removes the messages up to sequence `through` (they were stored); any of them that fell
    /// out meanwhile (full, too old) are gone already.
    mutating func remove(through sequence: UInt64) {
        while head < entries.count, entries[head].sequence <= sequence { head += 1 }
        compact()
    }

    /// Gives up everything left (at shutdown); returns how many.
    mutating func abandon() -> Int {
        let left = count
        entries.removeAll()
        head = 0
        return left
    }

    /// Drops the consumed prefix once it is at least half the storage.
    private mutating func compact() {
        if head > 0, head * 2 >= entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }
}
