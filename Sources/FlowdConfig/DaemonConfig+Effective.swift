import Protocol

extension DaemonConfig {
    /// The value of every config key in force, by key name: what run.json records, and what a
    /// SIGHUP compares to tell which settings changed. Numbers are JSON numbers, lists arrays,
    /// the rest strings written as the config file would (a test checks that each one, given
    /// back to its key, yields the same config, and that every key of ``ConfigKey/all`` is here).
    public var effectiveValues: [String: JSONValue] {
        Self.renderers.mapValues { $0(self) }
    }

    private static let renderers: [String: @Sendable (DaemonConfig) -> JSONValue] = [
        "inputs": { .array($0.inputs.map { .string($0.description) }) },
        "publish.endpoint": { .string($0.publishEndpoint) },
        "publish.counts_interval_s": { .double($0.countsIntervalSeconds) },
        "publish.linger_ms": { .integer(Int64($0.publishLingerMilliseconds)) },
        "metrics.listen": { .string($0.metricsListen ?? "off") },
        "curve.server_key": { .string($0.curve.serverKey) },
        "curve.camera_keys": { .string($0.curve.cameraKeys) },
        "curve.subscriber_keys": { .string($0.curve.subscriberKeys) },
        "curve.controller_keys": { .string($0.curve.controllerKeys) },
        "ingest.queue_capacity": { .integer(Int64($0.ingest.queueCapacity)) },
        "ingest.receive_hwm": { .integer(Int64($0.ingest.receiveHighWaterMark)) },
        "ingest.max_rows": { .integer(Int64($0.ingest.limits.maxRows)) },
        "ingest.max_cols": { .integer(Int64($0.ingest.limits.maxCols)) },
        "ingest.max_saturated_fraction": { .double($0.ingest.limits.maxSaturatedFraction) },
        "ingest.max_cameras": { .integer(Int64($0.ingest.maxCameras)) },
        "ingest.stale_after_s": { .double($0.staleAfterSeconds) },
        "model.path": { .string($0.pipeline.modelPath) },
        "reconstruction.wavelength_nm": { .double($0.pipeline.wavelengthNm) },
        "reconstruction.pixel_um": { .double($0.pipeline.pixelUm) },
        "reconstruction.alpha_ml_per_g": { .double($0.pipeline.alphaMlPerGram) },
        "reconstruction.reference": { .string($0.pipeline.referencePath) },
        "reconstruction.reference_frames": { .integer(Int64($0.pipeline.referenceFrames)) },
        "tracking.velocity_px": { .double($0.pipeline.velocityPixels) },
        "tracking.gate_px": { .double($0.pipeline.gatePixels) },
        "classify.min_confidence": { .double($0.pipeline.minConfidence) },
        "classify.max_views": { .integer(Int64($0.pipeline.maxViews)) },
        "workers": { .integer(Int64($0.workers)) },
        "log.level": { .string($0.logLevel.rawValue) },
        "log.malformed_burst": { .integer(Int64($0.malformedLogBurst)) },
        "log.malformed_window_s": { .double($0.malformedLogWindowSeconds) },
        "record.dir": { .string($0.record.directory) },
        "record.flush_interval_s": { .double($0.record.flushIntervalSeconds) },
        "control.endpoint": { .string($0.controlEndpoint ?? "") },
    ]
}
