import FlowdConfig
import Foundation
import Protocol
import Testing

@testable import FlowdConfig
@testable import FrameIngest

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

private func temporaryYAML(_ text: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("flowd-\(UUID()).yaml").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

private func configError(_ body: () throws -> DaemonConfig) -> String {
    do {
        _ = try body()
        return "no error"
    } catch {
        return "\(error)"
    }
}

@Suite("Configuration")
struct ConfigTests {
    @Test("config/flowd.yaml documents every key with exactly its default value")
    func shippedFileIsTheDefaults() throws {
        let path = repositoryRoot.appendingPathComponent("config/flowd.yaml").path
        let keysInFile = Set(try ConfigLoader.fileValues(path: path).map(\.0))
        #expect(keysInFile == Set(ConfigKey.all.map(\.name)))
        #expect(try ConfigLoader.load(file: path, environment: [:]) == DaemonConfig())
    }

    @Test("each key's effective value, given back to the key, yields the same config (run.json and SIGHUP rely on it)")
    func effectiveValues() throws {
        let config = try ConfigLoader.load(
            file: nil, environment: [:],
            overrides: try ["inputs=pull:tcp://127.0.0.1:1,rep+connect:tcp://127.0.0.1:2", "metrics.listen=off",
                "control.endpoint=", "record.dir=/data/runs", "record.flush_interval_s=0.25", "log.level=debug",
                "classify.min_confidence=0.7", "publish.linger_ms=17"]
                .map { (text) throws(ConfigError) in try ConfigLoader.override(parsing: text) })
        let values = config.effectiveValues
        #expect(Set(values.keys) == Set(ConfigKey.all.map(\.name)))
        var rebuilt = DaemonConfig()
        for key in ConfigKey.all {
            let texts: [String]
            switch values[key.name] {
            case .array(let items)?: texts = items.map(Self.text)
            case let value?: texts = [Self.text(value)]
            case nil: texts = []
            }
            try key.apply(&rebuilt, texts, .commandLine("test"))
        }
        #expect(rebuilt == config)
    }

    private static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .integer(let n): String(n)
        case .double(let x): String(x)
        default: "\(value)"
        }
    }

    @Test("the environment overrides the file, and the command line overrides both")
    func precedence() throws {
        let file = try temporaryYAML("ingest:\n  queue_capacity: 10\npublish:\n  endpoint: tcp://127.0.0.1:7000\n")
        let config = try ConfigLoader.load(
            file: file,
            environment: ["FLOWD_INGEST_QUEUE_CAPACITY": "20", "FLOWD_INPUTS": "pull:tcp://127.0.0.1:1, rep:tcp://127.0.0.1:2"],
            overrides: [try ConfigLoader.override(parsing: "ingest.queue_capacity=30")])
        #expect(config.ingest.queueCapacity == 30)
        #expect(config.publishEndpoint == "tcp://127.0.0.1:7000")
        #expect(config.inputs.map(\.description) == ["pull:tcp://127.0.0.1:1", "rep:tcp://127.0.0.1:2"])
    }

    @Test("a bad value names the key, the source and what was expected")
    func badValues() throws {
        let file = try temporaryYAML("ingest:\n  queue_capacity: 0\n")
        #expect(configError { try ConfigLoader.load(file: file, environment: [:]) }
            == "config key ingest.queue_capacity (from \(file)): expected an integer from 1 to 100000, got \"0\"")
        #expect(configError { try ConfigLoader.load(file: nil, environment: ["FLOWD_LOG_LEVEL": "loud"]) }
            .contains("config key log.level (from environment variable FLOWD_LOG_LEVEL)"))
        #expect(configError { try ConfigLoader.load(file: nil, environment: [:], overrides: [.init(key: "inputs", values: ["tcp://x:1"], option: "--input")]) }
            .contains("config key inputs (from command-line option --input)"))
    }

    @Test("an unknown key is an error with a suggestion, not silently ignored")
    func unknownKey() throws {
        let file = try temporaryYAML("ingest:\n  queue_capacty: 10\n")
        #expect(configError { try ConfigLoader.load(file: file, environment: [:]) }
            == "unknown config key ingest.queue_capacty (from \(file)); did you mean ingest.queue_capacity?")
    }

    @Test("FLOWD_ variables that name no key are reported, so a misspelling does not go unnoticed")
    func unknownEnvironment() {
        let environment = ["FLOWD_INGEST_QUEUE_CAPACTY": "9", "FLOWD_LOG_LEVEL": "info", "PATH": "/bin"]
        #expect(ConfigLoader.unknownEnvironmentVariables(environment) == ["FLOWD_INGEST_QUEUE_CAPACTY"])
    }

    @Test("a file that is not a YAML mapping is refused")
    func notAMapping() throws {
        #expect(configError { try ConfigLoader.load(file: try temporaryYAML("- a\n- b\n"), environment: [:]) }.contains("must be a mapping"))
        #expect(configError { try ConfigLoader.load(file: try temporaryYAML("a: [\n"), environment: [:]) }.contains("not valid YAML"))
        #expect(configError { try ConfigLoader.load(file: "/nonexistent/flowd.yaml", environment: [:]) }.contains("cannot read config file"))
    }

    @Test("--set needs KEY=VALUE")
    func setSyntax() {
        #expect(throws: ConfigError.self) { try ConfigLoader.override(parsing: "ingest.queue_capacity") }
        #expect(throws: ConfigError.self) { try ConfigLoader.override(parsing: "=3") }
    }

    @Test("the pipeline keys: a model path, tracking and a confidence threshold, each checked")
    func pipelineKeys() throws {
        let config = try ConfigLoader.load(
            file: try temporaryYAML("model:\n  path: /srv/flowd/model.safetensors\ntracking:\n  velocity_px: 120.5\n"),
            environment: ["FLOWD_CLASSIFY_MIN_CONFIDENCE": "0.8"],
            overrides: [try ConfigLoader.override(parsing: "reconstruction.reference_frames=7")])
        #expect(config.pipeline.modelPath == "/srv/flowd/model.safetensors")
        #expect(config.pipeline.velocityPixels == 120.5)
        #expect(config.pipeline.minConfidence == 0.8)
        #expect(config.pipeline.referenceFrames == 7)
        #expect(configError { try ConfigLoader.load(file: nil, environment: ["FLOWD_CLASSIFY_MIN_CONFIDENCE": "1.5"]) }
            .contains("config key classify.min_confidence"))
        #expect(configError { try ConfigLoader.load(file: nil, environment: ["FLOWD_RECONSTRUCTION_REFERENCE_FRAMES": "0"]) }
            .contains("config key reconstruction.reference_frames"))
    }

    @Test("refocusing and phase-sign keys that make no sense are refused at start-up with what was expected")
    func refocusKeys() throws {
        let config = try ConfigLoader.load(
            file: try temporaryYAML("reconstruction:\n  refocus: off\n  refocus_range_um: 25\n  medium_index: 1.337\n  phase_sign: inverted\n"),
            environment: [:])
        #expect(config.pipeline.refocus == "off" && config.pipeline.refocusRangeUm == 25 && config.pipeline.mediumIndex == 1.337)
        #expect(config.pipeline.phaseSign == "inverted")
        #expect(configError { try ConfigLoader.load(file: nil, environment: ["FLOWD_RECONSTRUCTION_REFOCUS_RANGE_UM": "0"]) }
            == "config key reconstruction.refocus_range_um (from environment variable FLOWD_RECONSTRUCTION_REFOCUS_RANGE_UM): expected a number from 1.0 to 200.0, got \"0\"")
        #expect(configError { try ConfigLoader.load(file: nil, environment: ["FLOWD_RECONSTRUCTION_MEDIUM_INDEX": "0.9"]) }
            .contains("expected a number from 1.0 to 2.0"))
        #expect(configError { try ConfigLoader.load(file: nil, environment: ["FLOWD_RECONSTRUCTION_PHASE_SIGN": "negative"]) }
            .contains("expected auto, as-is, inverted"))
        #expect(configError { try ConfigLoader.load(file: nil, environment: ["FLOWD_RECONSTRUCTION_REFOCUS": "on"]) }
            .contains("expected auto, off"))
    }
}
