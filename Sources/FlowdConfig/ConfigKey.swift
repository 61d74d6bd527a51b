import FrameIngest
import Logging

/// One configuration key: its dotted name, and how a text value is checked and stored.
///
/// The table ``all`` is the one place that lists what flowd can be configured with.
public struct ConfigKey: Sendable {
    public let name: String
    /// `true` for keys whose value is a list (YAML sequence, comma-separated in the environment).
    public let isList: Bool
    let apply: @Sendable (inout DaemonConfig, [String], ConfigSource) throws(ConfigError) -> Void

    /// `FLOWD_` + the name in upper case with dots as underscores.
    public var environmentVariable: String {
        "FLOWD_" + name.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    public static let all: [ConfigKey] = [
        list("inputs") { config, values, source throws(ConfigError) in
            guard !values.isEmpty else {
                throw ConfigError(key: "inputs", source: source, expected: "at least one input", got: "")
            }
            var inputs: [InputSpec] = []
            for value in values {
                do { inputs.append(try InputSpec(parsing: value)) } catch {
                    throw ConfigError("config key inputs (\(source)): \(error)")
                }
            }
            config.inputs = inputs
        },
        scalar("publish.endpoint") { config, value, source throws(ConfigError) in
            config.publishEndpoint = try endpoint(value, "publish.endpoint", source)
        },
        scalar("publish.counts_interval_s") { config, value, source throws(ConfigError) in
            config.countsIntervalSeconds = try number(value, "publish.counts_interval_s", source, 0.05...3600)
        },
        scalar("publish.linger_ms") { config, value, source throws(ConfigError) in
            config.publishLingerMilliseconds = Int32(try integer(value, "publish.linger_ms", source, 0...10_000))
        },
        scalar("metrics.listen") { config, value, source throws(ConfigError) in
            guard value != "off" else {
                config.metricsListen = nil
                return
            }
            let parts = value.split(separator: ":")
            guard parts.count == 2, UInt16(parts[1]) != nil, parts[0].split(separator: ".").count == 4 else {
                throw ConfigError(
                    key: "metrics.listen", source: source, expected: "IPV4:PORT such as 127.0.0.1:9464, or off", got: value)
            }
            config.metricsListen = value
        },
        scalar("curve.server_key") { config, value, _ in
            config.curve.serverKey = value
        },
        scalar("curve.camera_keys") { config, value, _ in
            config.curve.cameraKeys = value
        },
        scalar("curve.subscriber_keys") { config, value, _ in
            config.curve.subscriberKeys = value
        },
        scalar("curve.controller_keys") { config, value, _ in
            config.curve.controllerKeys = value
        },
        scalar("ingest.queue_capacity") { config, value, source throws(ConfigError) in
            config.ingest.queueCapacity = try integer(value, "ingest.queue_capacity", source, 1...100_000)
        },
        scalar("ingest.receive_hwm") { config, value, source throws(ConfigError) in
            config.ingest.receiveHighWaterMark = Int32(try integer(value, "ingest.receive_hwm", source, 1...1_000_000))
        },
        scalar("ingest.max_rows") { config, value, source throws(ConfigError) in
            config.ingest.limits.maxRows = try integer(value, "ingest.max_rows", source, 1...16384)
        },
        scalar("ingest.max_cols") { config, value, source throws(ConfigError) in
            config.ingest.limits.maxCols = try integer(value, "ingest.max_cols", source, 1...16384)
        },
        scalar("ingest.max_saturated_fraction") { config, value, source throws(ConfigError) in
            config.ingest.limits.maxSaturatedFraction = try number(value, "ingest.max_saturated_fraction", source, 0...1)
        },
        scalar("ingest.max_cameras") { config, value, source throws(ConfigError) in
            config.ingest.maxCameras = try integer(value, "ingest.max_cameras", source, 1...4096)
        },
        scalar("ingest.stale_after_s") { config, value, source throws(ConfigError) in
            config.staleAfterSeconds = try number(value, "ingest.stale_after_s", source, 0.1...86400)
        },
        scalar("model.path") { config, value, _ in
            config.pipeline.modelPath = value
        },
        scalar("reconstruction.wavelength_nm") { config, value, source throws(ConfigError) in
            config.pipeline.wavelengthNm = try number(value, "reconstruction.wavelength_nm", source, 100...2000)
        },
        scalar("reconstruction.pixel_um") { config, value, source throws(ConfigError) in
            config.pipeline.pixelUm = try number(value, "reconstruction.pixel_um", source, 0.005...20)
        },
        scalar("reconstruction.alpha_ml_per_g") { config, value, source throws(ConfigError) in
            config.pipeline.alphaMlPerGram = try number(value, "reconstruction.alpha_ml_per_g", source, 0.05...1)
        },
        scalar("reconstruction.reference") { config, value, _ in
            config.pipeline.referencePath = value
        },
        scalar("reconstruction.reference_frames") { config, value, source throws(ConfigError) in
            config.pipeline.referenceFrames = try integer(value, "reconstruction.reference_frames", source, 1...1000)
        },
        scalar("tracking.velocity_px") { config, value, source throws(ConfigError) in
            config.pipeline.velocityPixels = try number(value, "tracking.velocity_px", source, -100_000...100_000)
        },
        scalar("tracking.gate_px") { config, value, source throws(ConfigError) in
            config.pipeline.gatePixels = try number(value, "tracking.gate_px", source, 1...100_000)
        },
        scalar("classify.min_confidence") { config, value, source throws(ConfigError) in
            config.pipeline.minConfidence = try number(value, "classify.min_confidence", source, 0...1)
        },
        scalar("classify.max_views") { config, value, source throws(ConfigError) in
            config.pipeline.maxViews = try integer(value, "classify.max_views", source, 1...32)
        },
        scalar("workers") { config, value, source throws(ConfigError) in
            config.workers = try integer(value, "workers", source, 0...256)
        },
        scalar("log.level") { config, value, source throws(ConfigError) in
            guard let level = Logger.Level(rawValue: value.lowercased()) else {
                throw ConfigError(
                    key: "log.level", source: source,
                    expected: Logger.Level.allCases.map(\.rawValue).joined(separator: ", "), got: value)
            }
            config.logLevel = level
        },
        scalar("log.malformed_burst") { config, value, source throws(ConfigError) in
            config.malformedLogBurst = try integer(value, "log.malformed_burst", source, 0...100_000)
        },
        scalar("log.malformed_window_s") { config, value, source throws(ConfigError) in
            config.malformedLogWindowSeconds = try number(value, "log.malformed_window_s", source, 0.1...86400)
        },
        scalar("control.endpoint") { config, value, source throws(ConfigError) in
            config.controlEndpoint = value.isEmpty ? nil : try endpoint(value, "control.endpoint", source)
        },
        scalar("record.dir") { config, value, _ in
            config.record.directory = value
        },
        scalar("record.flush_interval_s") { config, value, source throws(ConfigError) in
            config.record.flushIntervalSeconds = try number(value, "record.flush_interval_s", source, 0.01...1)
        },
    ]

    public static func named(_ name: String) -> ConfigKey? { all.first { $0.name == name } }

    // MARK: Value parsers

    private static func scalar(
        _ name: String,
        _ apply: @escaping @Sendable (inout DaemonConfig, String, ConfigSource) throws(ConfigError) -> Void
    ) -> ConfigKey {
        ConfigKey(name: name, isList: false) { config, values, source throws(ConfigError) in
            guard values.count == 1 else {
                throw ConfigError(key: name, source: source, expected: "a single value", got: values.joined(separator: ","))
            }
            try apply(&config, values[0], source)
        }
    }

    private static func list(
        _ name: String,
        _ apply: @escaping @Sendable (inout DaemonConfig, [String], ConfigSource) throws(ConfigError) -> Void
    ) -> ConfigKey {
        ConfigKey(name: name, isList: true, apply: apply)
    }

    /// A ZeroMQ endpoint flowd binds.
    private static func endpoint(_ text: String, _ key: String, _ source: ConfigSource) throws(ConfigError) -> String {
        guard ["tcp://", "ipc://", "inproc://"].contains(where: text.hasPrefix) else {
            throw ConfigError(key: key, source: source, expected: "a tcp://, ipc:// or inproc:// endpoint", got: text)
        }
        return text
    }

    private static func integer(
        _ text: String, _ key: String, _ source: ConfigSource, _ range: ClosedRange<Int>
    ) throws(ConfigError) -> Int {
        try bounded(text, key, source, range, kind: "an integer")
    }

    private static func number(
        _ text: String, _ key: String, _ source: ConfigSource, _ range: ClosedRange<Double>
    ) throws(ConfigError) -> Double {
        try bounded(text, key, source, range, kind: "a number")
    }

    /// Parses `text` as a `T` within `range`, or names the key, the source and the range.
    private static func bounded<T: LosslessStringConvertible & Comparable>(
        _ text: String, _ key: String, _ source: ConfigSource, _ range: ClosedRange<T>, kind: String
    ) throws(ConfigError) -> T {
        guard let value = T(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            throw ConfigError(
                key: key, source: source, expected: "\(kind) from \(range.lowerBound) to \(range.upperBound)", got: text)
        }
        return value
    }
}
