import Dispatch
import FrameIngest
import Inference
import Protocol
import Reconstruction
import ZeroMQ

/// What `GET /metrics` shows: frame accounting per camera and outcome, malformed messages by
/// reason, queue depth, cells by label, the latency of each processing stage, and failures of
/// the run record.
///
/// Counters are read from the same ``IngestCounters`` that `counts` publishes, so the two can
/// never disagree; swift-prometheus renders them (``PrometheusMirror``). Families with a label
/// start with every value the daemon knows at 0 (reasons, the model's classes), so a series exists
/// before its first event.
struct DaemonMetrics: Sendable {
    let ingest: FrameIngest
    let pipeline: CellPipeline
    let recorder: RunRecorder
    /// The CurveZMQ handshake decisions, when Curve is on.
    let access: ZAPHandler?
    let startNanoseconds: UInt64
    /// The daemon's Prometheus registry (which also holds the stage latencies' histograms).
    let mirror: PrometheusMirror
    /// The NATS JetStream stream of cells, when `nats.url` is set.
    let stream: CellStream?

    /// The registry's exposition after the mirrored values were brought up to date.
    func render() -> String {
        let now = DispatchTime.now().uptimeNanoseconds
        let cameras = ingest.counters.snapshot(at: now).sorted { $0.key < $1.key }
        let out = mirror
        out.gauge("flowd_uptime_seconds", help: "Seconds since the daemon started.", value: Double(now - startNanoseconds) / 1e9)
        for (camera, c) in cameras {
            for (outcome, value) in [("received", c.frames.received), ("malformed", c.frames.malformed), ("dropped", c.frames.dropped)] {
                out.counter(
                    "flowd_frames_total", help: "Camera messages by outcome: received, malformed or dropped.",
                    [("camera", camera), ("outcome", outcome)], total: value)
            }
            out.counters(
                "flowd_malformed_total", help: "Malformed camera messages by reason.", [("camera", camera)], by: "reason",
                known: FrameDecodingError.Reason.allCases.map(\.rawValue), totals: c.malformedByReason)
            out.counters(
                "flowd_rejected_total", help: "Received frames the pipeline could not process, by reason.",
                [("camera", camera)], by: "reason", known: RejectionReason.allCases.map(\.rawValue),
                totals: c.rejectedByReason)
            out.counter(
                "flowd_sequence_gaps_total", help: "Frames missing from a camera's seq sequence.", [("camera", camera)],
                total: c.frames.gaps)
            out.counter("flowd_received_bytes_total", help: "Pixel bytes received.", [("camera", camera)], total: c.bytes)
            if let idle = c.secondsSinceLastFrame {
                out.gauge(
                    "flowd_seconds_since_last_frame", help: "Seconds since a camera's last message (stale stream).",
                    [("camera", camera)], value: idle)
            }
        }
        if let access {
            for (domain, tally) in access.tally() {
                for (decision, value) in [("admitted", tally.admitted), ("refused", tally.refused)] {
                    out.counter(
                        "flowd_curve_handshakes_total", help: "CurveZMQ clients admitted or refused, by socket role.",
                        [("domain", domain), ("decision", decision)], total: value)
                }
            }
        }
        out.gauge("flowd_queue_depth", help: "Frames waiting for a worker.", value: Double(ingest.queue.depth))
        out.gauge(
            "flowd_queue_depth_max", help: "Most frames waiting for a worker at once since start.",
            value: Double(ingest.queue.maxDepth))
        out.gauge("flowd_queue_capacity", help: "Frames the queue holds before dropping.", value: Double(ingest.queue.capacity))
        out.gauge(
            "flowd_workers", help: "Frame workers (each reconstructs and classifies whole frames).",
            value: Double(pipeline.workerCount))
        out.gauge(
            "flowd_inference_threads", help: "Threads per worker's inference context, and the OpenBLAS core its kernels come from.",
            [("blas_core", BLASRuntime.coreName)], value: Double(pipeline.inferenceThreads))
        for r in pipeline.referenceHealth {
            out.gauge(
                "flowd_background_rms_nm",
                help: "Background OPD left after the plane fit in a camera's last frame, nm RMS: grows as the reference drifts.",
                [("camera", r.camera)], value: r.backgroundRmsNm)
            out.counter(
                "flowd_reference_refreshes_total", help: "References remade from running frames (reconstruction.reference_refresh_s).",
                [("camera", r.camera)], total: UInt64(r.refreshes))
        }
        out.counters(
            "flowd_objects_rejected_total", help: "Objects that were not counted as cells, by reason.", by: "reason",
            known: ObjectRejection.allCases.map(\.rawValue), totals: pipeline.tally.objectsRejected)
        out.counter(
            "flowd_classified_crops_total", help: "Cell views classified (at most classify.max_views per cell).",
            total: pipeline.classifiedCrops.load(ordering: .relaxed))
        // The labels a cell can get in this run.
        out.counters(
            "flowd_cells_total", help: "Cells published, by label (class, unknown or unclassified).", by: "class",
            known: pipeline.classifier.classes.map { $0 + ["unknown"] } ?? [CellLabel.unclassified.label],
            totals: pipeline.tally.byClass)
        out.counter(
            "flowd_record_errors_total", help: "Failed writes of the run record (run directory, cells.fcs, run.json).",
            total: recorder.errors.load(ordering: .relaxed))
        out.counter(
            "flowd_cells_unrecorded_total", help: "Cells published but not written to any run's cells.fcs.",
            total: recorder.unrecorded.load(ordering: .relaxed))
        if let tally = stream?.tally {
            out.gauge("flowd_nats_connected", help: "1 while connected to the NATS server (nats.url).", value: tally.connected ? 1 : 0)
            out.counter("flowd_nats_cells_stored_total", help: "Cells the JetStream stream acknowledged.", total: UInt64(tally.stored))
            out.gauge("flowd_nats_cells_waiting", help: "Cells waiting in the outbox for the stream.", value: Double(tally.buffered))
            for (reason, count) in [("buffer_full", tally.lostFull), ("too_old", tally.lostTooOld), ("shutdown", tally.lostAtShutdown)] {
                out.counter(
                    "flowd_nats_cells_lost_total", help: "Cells given up before the stream stored them, by reason.",
                    [("reason", reason)], total: UInt64(count))
            }
        }
        return out.exposition()
    }
}
