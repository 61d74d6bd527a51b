import FrameIngest
import Logging
import Protocol

/// One configuration key: its dotted name, how a text value is checked and stored, and how the
/// value in force is read back (run.json, SIGHUP's comparison).
///
/// The table ``all`` is the one place that lists what flowd can be configured with, and the one
/// place each key's name is written.
public struct ConfigKey: Sendable {
    public let name: String
    /// `true` for keys whose value is a list (YAML sequence, comma-separated in the environment).
    public let isList: Bool
    let apply: @Sendable (inout DaemonConfig, [String], ConfigSource) throws(ConfigError) -> Void
    /// The value in force, as the config file would write it (``DaemonConfig/effectiveValues``).
    let read: @Sendable (DaemonConfig) -> JSONValue

    /// `FLOWD_` + the name in upper case with dots as underscores.
    public var environmentVariable: String {
        "FLOWD_" + name.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    public static let all: [ConfigKey] = [
        list("inputs", read: { .array($0.inputs.map { .string($0.description) }) }) { config, values, origin throws(ConfigError) in
            guard !values.isEmpty else { throw origin.error(expected: "at least one input", got: "") }
            var inputs: [InputSpec] = []
            for value in values {
                do { inputs.append(try InputSpec(parsing: value)) } catch {
                    throw ConfigError("config key \(origin.key) (\(origin.source)): \(error)")
                }
            }
            config.inputs = inputs
        },
        scalar("publish.endpoint", read: { .string($0.publishEndpoint) }) { config, value, origin throws(ConfigError) in
            config.publishEndpoint = try origin.endpoint(value)
        },
        number("publish.counts_interval_s", \.countsIntervalSeconds, 0.05...3600),
        integer("publish.linger_ms", \.publishLingerMilliseconds, 0...10_000),
        scalar("metrics.listen", read: { .string($0.metricsListen ?? "off") }) { config, value, origin throws(ConfigError) in
            guard value != "off" else {
                config.metricsListen = nil
                return
            }
            let parts = value.split(separator: ":")
            guard parts.count == 2, UInt16(parts[1]) != nil, parts[0].split(separator: ".").count == 4 else {
                throw origin.error(expected: "IPV4:PORT such as 127.0.0.1:9464, or off", got: value)
            }
            config.metricsListen = value
        },
        scalar("metrics.token_file", read: { .string($0.metricsTokenFile ?? "") }) { config, value, _ in
            config.metricsTokenFile = value.isEmpty ? nil : value
        },
        text("curve.server_key", \.curve.serverKey),
        text("curve.camera_keys", \.curve.cameraKeys),
        text("curve.subscriber_keys", \.curve.subscriberKeys),
        text("curve.controller_keys", \.curve.controllerKeys),
        integer("ingest.queue_capacity", \.ingest.queueCapacity, 1...100_000),
        integer("ingest.receive_hwm", \.ingest.receiveHighWaterMark, 1...1_000_000),
        integer("ingest.max_rows", \.ingest.limits.maxRows, 1...16384),
        integer("ingest.max_cols", \.ingest.limits.maxCols, 1...16384),
        number("ingest.max_saturated_fraction", \.ingest.limits.maxSaturatedFraction, 0...1),
        integer("ingest.max_cameras", \.ingest.maxCameras, 1...4096),
        number("ingest.stale_after_s", \.staleAfterSeconds, 0.1...86400),
        text("model.path", \.pipeline.modelPath),
        number("reconstruction.wavelength_nm", \.pipeline.wavelengthNm, 100...2000),
        number("reconstruction.pixel_um", \.pipeline.pixelUm, 0.005...20),
        number("reconstruction.alpha_ml_per_g", \.pipeline.alphaMlPerGram, 0.05...1),
        text("reconstruction.reference", \.pipeline.referencePath),
        choice("reconstruction.phase_sign", \.pipeline.phaseSign, ["auto", "as-is", "inverted"]),
        choice("reconstruction.refocus", \.pipeline.refocus, ["auto", "off"]),
        number("reconstruction.refocus_range_um", \.pipeline.refocusRangeUm, 1...200),
        number("reconstruction.medium_index", \.pipeline.mediumIndex, 1...2),
        integer("reconstruction.reference_frames", \.pipeline.referenceFrames, 1...1000),
        number("reconstruction.reference_refresh_s", \.pipeline.referenceRefreshSeconds, 0...86400),
        number("tracking.velocity_px", \.pipeline.velocityPixels, 0...100_000),
        number("tracking.gate_px", \.pipeline.gatePixels, 1...100_000),
        number("classify.min_confidence", \.pipeline.minConfidence, 0...1),
        integer("classify.max_views", \.pipeline.maxViews, 1...32),
        integer("workers", \.workers, 0...256),
        scalar("log.level", read: { .string($0.logLevel.rawValue) }) { config, value, origin throws(ConfigError) in
            guard let level = Logger.Level(rawValue: value.lowercased()) else {
                throw origin.error(expected: Logger.Level.allCases.map(\.rawValue).joined(separator: ", "), got: value)
            }
            config.logLevel = level
        },
        integer("log.malformed_burst", \.malformedLogBurst, 0...100_000),
        number("log.malformed_window_s", \.malformedLogWindowSeconds, 0.1...86400),
        scalar("control.endpoint", read: { .string($0.controlEndpoint ?? "") }) { config, value, origin throws(ConfigError) in
            config.controlEndpoint = value.isEmpty ? nil : try origin.endpoint(value)
        },
        scalar("nats.url", read: { .string($0.nats.url) }) { config, value, origin throws(ConfigError) in
            let servers = value.split(separator: ",").map { $0.drop { $0 == " " } }
            guard value.isEmpty || servers.allSatisfy({ $0.hasPrefix("nats://") || $0.hasPrefix("tls://") }) else {
                throw origin.error(expected: "empty (off) or nats://HOST:PORT / tls://HOST:PORT, comma-separated", got: value)
            }
            config.nats.url = value
        },
        token("nats.rig", \.nats.rig, emptyMeans: "the host name"),
        token("nats.stream", \.nats.stream),
        number("nats.stream_max_age_s", \.nats.streamMaxAgeSeconds, 60...1e9),
        integer("nats.stream_max_bytes", \.nats.streamMaxBytes, (1 << 20)...Int(Int64.max)),
        token("nats.bucket", \.nats.bucket),
        text("nats.credentials", \.nats.credentialsFile),
        text("nats.tls_ca", \.nats.trustedCAFile),
        integer("nats.buffer_cells", \.nats.bufferCells, 1...10_000_000),
        number("nats.buffer_max_age_s", \.nats.bufferMaxAgeSeconds, 1...86400),
        scalar("role", read: { .string($0.scaleOut.role.rawValue) }) { config, value, origin throws(ConfigError) in
            guard let role = ScaleOutSettings.Role(rawValue: value) else {
                throw origin.error(expected: ScaleOutSettings.Role.allCases.map(\.rawValue).joined(separator: ", "), got: value)
            }
            config.scaleOut.role = role
        },
        scalar("scale_out.aggregator", read: { .string($0.scaleOut.aggregator) }) { config, value, origin throws(ConfigError) in
            config.scaleOut.aggregator = value.isEmpty ? "" : try origin.endpoint(value)
        },
        scalar("scale_out.listen", read: { .string($0.scaleOut.listen) }) { config, value, origin throws(ConfigError) in
            config.scaleOut.listen = value.isEmpty ? "" : try origin.endpoint(value)
        },
        list("scale_out.cameras", read: { .array($0.scaleOut.cameras.map(JSONValue.string)) }) { config, values, origin throws(ConfigError) in
            let cameras = values.filter { !$0.isEmpty }
            for camera in cameras where camera.utf8.count > FrameHeader.maxCameraIDBytes {
                throw origin.error(expected: "camera ids of 1 to \(FrameHeader.maxCameraIDBytes) bytes", got: camera)
            }
            config.scaleOut.cameras = cameras
        },
        number("scale_out.reorder_timeout_s", \.scaleOut.reorderTimeoutSeconds, 0.05...600),
        integer("scale_out.label_threads", \.scaleOut.labelThreads, 0...256),
        text("record.dir", \.record.directory),
        number("record.flush_interval_s", \.record.flushIntervalSeconds, 0.01...1),
        integer("record.hologram_every", \.record.hologramEvery, 0...1_000_000),
        text("record.sample", \.record.sample),
        text("record.medium", \.record.medium),
        number("record.flow_rate_ul_s", \.record.flowRateMicrolitresPerSecond, 1e-6...1e4),
        number("record.channel_width_um", \.record.channelWidthUm, 0.1...1e5),
        number("record.frame_rate_hz", \.record.frameRateHz, 0.001...1e7),
        text("record.light_source", \.record.lightSource),
        number("record.exposure_us", \.record.exposureMicroseconds, 1e-6...1e7),
    ]

    public static func named(_ name: String) -> ConfigKey? { all.first { $0.name == name } }

    /// Where a value is being parsed: the key and the value's source, which every error names.
    struct Origin {
        let key: String
        let source: ConfigSource

        func error(expected: String, got text: String) -> ConfigError {
            ConfigError(key: key, source: source, expected: expected, got: text)
        }

        /// A ZeroMQ endpoint flowd binds.
        func endpoint(_ text: String) throws(ConfigError) -> String {
            guard ["tcp://", "ipc://", "inproc://"].contains(where: text.hasPrefix) else {
                throw error(expected: "a tcp://, ipc:// or inproc:// endpoint", got: text)
            }
            return text
        }

        /// Parses `text` as a `T` within `range`, or names the key, the source and the range.
        func bounded<T: LosslessStringConvertible & Comparable>(
            _ text: String, _ range: ClosedRange<T>, kind: String
        ) throws(ConfigError) -> T {
            guard let value = T(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
                throw error(expected: "\(kind) from \(range.lowerBound) to \(range.upperBound)", got: text)
            }
            return value
        }
    }

    // MARK: Kinds of key

    private static func scalar(
        _ name: String, read: @escaping @Sendable (DaemonConfig) -> JSONValue,
        _ apply: @escaping @Sendable (inout DaemonConfig, String, Origin) throws(ConfigError) -> Void
    ) -> ConfigKey {
        ConfigKey(name: name, isList: false, apply: { config, values, source throws(ConfigError) in
            let origin = Origin(key: name, source: source)
            guard values.count == 1 else { throw origin.error(expected: "a single value", got: values.joined(separator: ",")) }
            try apply(&config, values[0], origin)
        }, read: read)
    }

    private static func list(
        _ name: String, read: @escaping @Sendable (DaemonConfig) -> JSONValue,
        _ apply: @escaping @Sendable (inout DaemonConfig, [String], Origin) throws(ConfigError) -> Void
    ) -> ConfigKey {
        ConfigKey(name: name, isList: true, apply: { config, values, source throws(ConfigError) in
            try apply(&config, values, Origin(key: name, source: source))
        }, read: read)
    }

    /// A free-text key (a path, a key file); empty is allowed.
    private static func text(_ name: String, _ field: WritableKeyPath<DaemonConfig, String> & Sendable) -> ConfigKey {
        scalar(name, read: { .string($0[keyPath: field]) }) { config, value, _ in config[keyPath: field] = value }
    }

    /// A name that goes into NATS subjects, stream or bucket names: letters, digits, `_`, `-`
    /// (empty only where `emptyMeans` says what empty stands for).
    private static func token(
        _ name: String, _ field: WritableKeyPath<DaemonConfig, String> & Sendable, emptyMeans: String? = nil
    ) -> ConfigKey {
        scalar(name, read: { .string($0[keyPath: field]) }) { config, value, origin throws(ConfigError) in
            let allowed = value.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" || $0 == "-" }
            guard allowed, !value.isEmpty || emptyMeans != nil else {
                let empty = emptyMeans.map { " (empty: \($0))" } ?? ""
                throw origin.error(expected: "letters, digits, _ and -\(empty)", got: value)
            }
            config[keyPath: field] = value
        }
    }

    /// A key whose value is one of `options`.
    private static func choice(
        _ name: String, _ field: WritableKeyPath<DaemonConfig, String> & Sendable, _ options: [String]
    ) -> ConfigKey {
        scalar(name, read: { .string($0[keyPath: field]) }) { config, value, origin throws(ConfigError) in
            guard options.contains(value) else { throw origin.error(expected: options.joined(separator: ", "), got: value) }
            config[keyPath: field] = value
        }
    }

    private static func number(
        _ name: String, _ field: WritableKeyPath<DaemonConfig, Double> & Sendable, _ range: ClosedRange<Double>
    ) -> ConfigKey {
        scalar(name, read: { .double($0[keyPath: field]) }) { config, value, origin throws(ConfigError) in
            config[keyPath: field] = try origin.bounded(value, range, kind: "a number")
        }
    }

    private static func integer<Integer: FixedWidthInteger & Sendable>(
        _ name: String, _ field: WritableKeyPath<DaemonConfig, Integer> & Sendable, _ range: ClosedRange<Int>
    ) -> ConfigKey {
        scalar(name, read: { .integer(Int64($0[keyPath: field])) }) { config, value, origin throws(ConfigError) in
            config[keyPath: field] = Integer(try origin.bounded(value, range, kind: "an integer"))
        }
    }
}
