import Dispatch
import FrameIngest
import Inference
import ZeroMQ

/// What `GET /metrics` shows: frame accounting per camera and outcome, malformed messages by
/// reason, queue depth, cells by label, the latency of each processing stage, and failures of
/// the run record.
///
/// Counters are read from the same ``IngestCounters`` that `counts` publishes, so the two can
/// never disagree.
struct DaemonMetrics: Sendable {
    let ingest: FrameIngest
    let pipeline: CellPipeline
    let recorder: RunRecorder
    /// The CurveZMQ handshake decisions, when Curve is on.
    let access: ZAPHandler?
    let startNanoseconds: UInt64
    /// Frame arrival → frame processed by a worker.
    let frameLatency: LatencyHistogram
    /// The NATS JetStream stream of cells, when `nats.url` is set.
    let stream: CellStream?

    func render() -> String {
        let now = DispatchTime.now().uptimeNanoseconds
        let cameras = ingest.counters.snapshot(at: now).sorted { $0.key < $1.key }
        var out = PrometheusText()
        out.family("flowd_uptime_seconds", .gauge, help: "Seconds since the daemon started.")
        out.sample("flowd_uptime_seconds", [], Double(now - startNanoseconds) / 1e9)
        out.family("flowd_frames_total", .counter, help: "Camera messages by outcome: received, malformed or dropped.")
        for (camera, c) in cameras {
            for (outcome, value) in [("received", c.frames.received), ("malformed", c.frames.malformed), ("dropped", c.frames.dropped)] {
                out.sample("flowd_frames_total", [("camera", camera), ("outcome", outcome)], Double(value))
            }
        }
        out.family("flowd_malformed_total", .counter, help: "Malformed camera messages by reason.")
        for (camera, c) in cameras {
            for (reason, value) in c.malformedByReason.sorted(by: { $0.key < $1.key }) {
                out.sample("flowd_malformed_total", [("camera", camera), ("reason", reason)], Double(value))
            }
        }
        out.family("flowd_rejected_total", .counter, help: "Received frames the pipeline could not process, by reason.")
        for (camera, c) in cameras {
            for (reason, value) in c.rejectedByReason.sorted(by: { $0.key < $1.key }) {
                out.sample("flowd_rejected_total", [("camera", camera), ("reason", reason)], Double(value))
            }
        }
        out.family("flowd_sequence_gaps_total", .counter, help: "Frames missing from a camera's seq sequence.")
        for (camera, c) in cameras { out.sample("flowd_sequence_gaps_total", [("camera", camera)], Double(c.frames.gaps)) }
        out.family("flowd_received_bytes_total", .counter, help: "Pixel bytes received.")
        for (camera, c) in cameras { out.sample("flowd_received_bytes_total", [("camera", camera)], Double(c.bytes)) }
        out.family("flowd_seconds_since_last_frame", .gauge, help: "Seconds since a camera's last message (stale stream).")
        for (camera, c) in cameras {
            if let idle = c.secondsSinceLastFrame { out.sample("flowd_seconds_since_last_frame", [("camera", camera)], idle) }
        }
        if let access {
            out.family("flowd_curve_handshakes_total", .counter, help: "CurveZMQ clients admitted or refused, by socket role.")
            for (domain, tally) in access.tally().sorted(by: { $0.key < $1.key }) {
                for (decision, value) in [("admitted", tally.admitted), ("refused", tally.refused)] {
                    out.sample("flowd_curve_handshakes_total", [("domain", domain), ("decision", decision)], Double(value))
                }
            }
        }
        out.family("flowd_queue_depth", .gauge, help: "Frames waiting for a worker.")
        out.sample("flowd_queue_depth", [], Double(ingest.queue.depth))
        out.family("flowd_queue_depth_max", .gauge, help: "Most frames waiting for a worker at once since start.")
        out.sample("flowd_queue_depth_max", [], Double(ingest.queue.maxDepth))
        out.family("flowd_queue_capacity", .gauge, help: "Frames the queue holds before dropping.")
        out.sample("flowd_queue_capacity", [], Double(ingest.queue.capacity))
        out.family("flowd_workers", .gauge, help: "Frame workers (each reconstructs and classifies whole frames).")
        out.sample("flowd_workers", [], Double(pipeline.workerCount))
        out.family(
            "flowd_inference_threads", .gauge,
            help: "Threads per worker's inference context, and the OpenBLAS core its kernels come from.")
        out.sample("flowd_inference_threads", [("blas_core", BLASRuntime.coreName)], Double(pipeline.inferenceThreads))
        out.family("flowd_stage_seconds", .histogram, help: "Latency of each processing stage, seconds.")
        out.histogram("flowd_stage_seconds", [("stage", "frame")], frameLatency)
        out.histogram("flowd_stage_seconds", [("stage", "reconstruct")], pipeline.reconstructLatency)
        out.histogram("flowd_stage_seconds", [("stage", "classify")], pipeline.classifyLatency)
        out.histogram("flowd_stage_seconds", [("stage", "frame_to_publish")], pipeline.publishLatency)
        let references = pipeline.referenceHealth
        out.family(
            "flowd_background_rms_nm", .gauge,
            help: "Background OPD left after the plane fit in a camera's last frame, nm RMS: grows as the reference drifts.")
        for r in references { out.sample("flowd_background_rms_nm", [("camera", r.camera)], r.backgroundRmsNm) }
        out.family("flowd_reference_refreshes_total", .counter, help: "References remade from running frames (reconstruction.reference_refresh_s).")
        for r in references { out.sample("flowd_reference_refreshes_total", [("camera", r.camera)], Double(r.refreshes)) }
        out.family("flowd_objects_rejected_total", .counter, help: "Objects that were not counted as cells, by reason.")
        for (reason, count) in pipeline.tally.objectsRejected.sorted(by: { $0.key < $1.key }) {
            out.sample("flowd_objects_rejected_total", [("reason", reason)], Double(count))
        }
        out.family("flowd_classified_crops_total", .counter, help: "Cell views classified (at most classify.max_views per cell).")
        out.sample("flowd_classified_crops_total", [], Double(pipeline.classifiedCrops.load(ordering: .relaxed)))
        out.family("flowd_cells_total", .counter, help: "Cells published, by label (class, unknown or unclassified).")
        for (label, count) in pipeline.tally.byClass.sorted(by: { $0.key < $1.key }) {
            out.sample("flowd_cells_total", [("class", label)], Double(count))
        }
        out.family("flowd_record_errors_total", .counter, help: "Failed writes of the run record (run directory, cells.fcs, run.json).")
        out.sample("flowd_record_errors_total", [], Double(recorder.errors.load(ordering: .relaxed)))
        out.family("flowd_cells_unrecorded_total", .counter, help: "Cells published but not written to any run's cells.fcs.")
        out.sample("flowd_cells_unrecorded_total", [], Double(recorder.unrecorded.load(ordering: .relaxed)))
        if let tally = stream?.tally {
            out.family("flowd_nats_connected", .gauge, help: "1 while connected to the NATS server (nats.url).")
            out.sample("flowd_nats_connected", [], tally.connected ? 1 : 0)
            out.family("flowd_nats_cells_stored_total", .counter, help: "Cells the JetStream stream acknowledged.")
            out.sample("flowd_nats_cells_stored_total", [], Double(tally.stored))
            out.family("flowd_nats_cells_waiting", .gauge, help: "Cells waiting in the outbox for the stream.")
            out.sample("flowd_nats_cells_waiting", [], Double(tally.buffered))
            out.family("flowd_nats_cells_lost_total", .counter, help: "Cells given up before the stream stored them, by reason.")
            for (reason, count) in [("buffer_full", tally.lostFull), ("too_old", tally.lostTooOld), ("shutdown", tally.lostAtShutdown)] {
                out.sample("flowd_nats_cells_lost_total", [("reason", reason)], Double(count))
            }
        }
        return out.text
    }
}
