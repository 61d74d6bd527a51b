/// Topics of the result stream: flowd's PUB socket sends multipart `[topic, JSON]`, and every
/// JSON body carries a version field `v`. Subscribers filter by topic prefix, as usual in ZeroMQ.
public enum Topic: String, Sendable, CaseIterable {
    /// One message per classified cell.
    case cell
    /// Running population and frame counters, at a configured cadence and once at shutdown.
    case counts
}
