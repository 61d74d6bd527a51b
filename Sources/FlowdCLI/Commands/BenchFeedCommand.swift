import ArgumentParser
import FlowdTools

/// `flowd bench feed`: ``FeedBenchmark``.
struct BenchFeed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed",
        abstract: "Measure whether the dashboard's live feed slows the frame work.",
        discussion: """
            Alternating phases in one process: workers doing one FFT of a frame per frame at a fixed \
            rate, alone and while they offer synthetic cells to the dashboard's feed and pages turn \
            them into server-sent events. Reports frames/s, frame latency, CPU per frame and the \
            pages' CPU per phase.
            """)

    @OptionGroup var frame: FrameSizeOption

    @Option(help: "Frames per second over all workers.")
    var rate: Double = 300

    @Option(help: "Worker threads (the daemon's frame workers).")
    var workers: Int = 2

    @Option(help: "Pages reading the feed every 0.5 s (one more that never reads is implied).")
    var pages: Int = 2

    @Option(help: "Synthetic cells per second offered to the feed in the feed phases.")
    var cellsPerSecond: Double = 1000

    @Option(help: "Seconds per phase.")
    var seconds: Double = 10

    @Option(help: "Rounds of (no feed, feed) phases.")
    var rounds: Int = 2

    @OptionGroup var report: JSONReportOption

    func validate() throws {
        guard rate > 0, workers > 0, pages >= 0, cellsPerSecond >= 0, seconds > 0, rounds > 0 else {
            throw ValidationError("--rate, --workers, --seconds and --rounds must be positive; --pages and --cells-per-second not negative")
        }
    }

    func run() async throws {
        try FeedBenchmark(
            size: frame.size, rate: rate, workers: workers, pages: pages, cellsPerSecond: cellsPerSecond,
            secondsPerPhase: seconds, rounds: rounds
        ).run(json: report.json)
    }
}
