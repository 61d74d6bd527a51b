import ArgumentParser

/// `flowd bench …`: measurements that compare flowd with the tools a lab would use instead.
/// Each subcommand prints a human table, or JSON with `--json` (what scripts/bench-* record).
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure flowd's stages on this machine.",
        subcommands: [BenchReconstruct.self, BenchInference.self, BenchPipeline.self, BenchFeed.self])
}
