import Histogram

/// hdrhistogram-swift's histogram of nanoseconds. The alias keeps its name apart from
/// swift-prometheus's `Histogram`: ``LatencyHistogram`` uses both.
typealias NanosecondHistogram = Histogram<UInt64>
