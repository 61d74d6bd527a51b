import ArgumentParser
import FlowDaemon
import FlowdConfig

/// `flowd run`: the daemon, as systemd starts it.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon: receive camera frames, publish results, until SIGTERM.",
        discussion: "Settings come from the defaults, then --config, then FLOWD_* environment variables, "
            + "then the command line. config/flowd.yaml documents every key.")

    @Option(help: "YAML config file (see config/flowd.yaml).")
    var config: String?

    @Option(
        name: .customLong("input"),
        help: "Camera input MODE:ENDPOINT, repeatable; MODE is sub, pull or rep (e.g. sub:tcp://127.0.0.1:5555).")
    var inputs: [String] = []

    @Option(help: "PUB endpoint for results, bound by flowd (e.g. tcp://127.0.0.1:5560).")
    var publish: String?

    @Option(help: "Classifier model file (safetensors from topgan export); same as --set model.path=PATH.")
    var model: String?

    @Option(
        help: "all (default: everything in this process), worker or aggregator (frames spread over hosts; docs/scale-out.md); same as --set role=ROLE.")
    var role: String?

    @Option(name: .customLong("set"), help: "Override any config key: --set ingest.queue_capacity=128. Repeatable.")
    var settings: [String] = []

    func run() async throws {
        let status = try await Daemon.launch(loadConfig: loadConfig)
        if status != 0 { throw ExitCode(status) }
    }

    /// The config from the defaults, `--config`, the environment and the options.
    private func loadConfig() throws(ConfigError) -> DaemonConfig {
        var overrides = try settings.map { (text) throws(ConfigError) in try ConfigLoader.override(parsing: text) }
        if !inputs.isEmpty { overrides.append(.init(key: "inputs", values: inputs, option: "--input")) }
        if let model { overrides.append(.init(key: "model.path", values: [model], option: "--model")) }
        if let role { overrides.append(.init(key: "role", values: [role], option: "--role")) }
        if let publish { overrides.append(.init(key: "publish.endpoint", values: [publish], option: "--publish")) }
        return try ConfigLoader.load(file: config, overrides: overrides)
    }
}
