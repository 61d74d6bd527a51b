/// The JSON of `flowd bench pipeline --json`: the set-up, then one trial per rate.
struct BenchPipelineReport: Encodable {
    /// The live pipeline's target on a 2-core machine; a trial `met` it when all hold.
    struct Bar: Encodable {
        var minFramesPerSecondFraction = 0.99
        var maxDrops = 0
        var maxLatencyP99Milliseconds = 20.0

        enum CodingKeys: String, CodingKey {
            case minFramesPerSecondFraction = "min_frames_per_second_of_rate"
            case maxDrops = "max_drops"
            case maxLatencyP99Milliseconds = "max_latency_p99_ms"
        }
    }

    var size: Int
    var model: String
    var poolFrames: Int
    /// The twin's conditions the pool was rendered at: ideal, lab or custom.
    var twinConditions: String
    /// The daemon's `reconstruction.refocus` (auto or off).
    var refocus: String
    var cellsInViewPerFrame: Double
    var seconds: Double
    var warmupSeconds: Double
    var cores: Int
    var bar = Bar()
    var trials: [BenchPipelineTrial]
    /// The highest rate whose trial met the bar; `nil` when none did.
    var sustainableRate: Double?

    enum CodingKeys: String, CodingKey {
        case size, model, poolFrames = "pool_frames", twinConditions = "twin_conditions", refocus
        case cellsInViewPerFrame = "cells_in_view_per_frame", seconds
        case warmupSeconds = "warmup_seconds", cores, bar, trials, sustainableRate = "sustainable_rate"
    }

    /// As synthesised, except that `sustainable_rate` is written as `null` rather than left out.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(size, forKey: .size)
        try c.encode(model, forKey: .model)
        try c.encode(poolFrames, forKey: .poolFrames)
        try c.encode(twinConditions, forKey: .twinConditions)
        try c.encode(refocus, forKey: .refocus)
        try c.encode(cellsInViewPerFrame, forKey: .cellsInViewPerFrame)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(warmupSeconds, forKey: .warmupSeconds)
        try c.encode(cores, forKey: .cores)
        try c.encode(bar, forKey: .bar)
        try c.encode(trials, forKey: .trials)
        try c.encode(sustainableRate, forKey: .sustainableRate)
    }
}

/// One `flowd run` fed at one fixed rate.
struct BenchPipelineTrial: Encodable {
    /// Frame accounting over the whole trial (reference frames and warm-up included):
    /// `sent = not_sent + received + dropped + malformed`, `received = processed + rejected`.
    struct Frames: Encodable {
        /// Frames the camera tried to send.
        var sent: Int
        /// Of those, not taken by libzmq: the daemon's receive buffer was full.
        var notSent: Int
        var received: Int
        /// Refused by the daemon's full queue.
        var dropped: Int
        var malformed: Int
        var rejected: Int
        /// Reconstructed (and classified) by a worker.
        var processed: Int
        /// Processed inside the timed window.
        var processedInWindow: Int
        /// Missing `seq` numbers the daemon saw (the frames not sent, seen from its side).
        var seqGaps: Int

        enum CodingKeys: String, CodingKey {
            case sent, notSent = "not_sent", received, dropped, malformed, rejected, processed
            case processedInWindow = "processed_in_window", seqGaps = "seq_gaps"
        }
    }

    struct Latency: Encodable {
        var p50: Double
        var p99: Double
        var max: Double
        var cells: Int
    }

    /// Published labels against the twin's truth, over the whole trial: a check that speed was
    /// not bought with accuracy (cells are matched by `seq` and centroid).
    struct Labels: Encodable {
        var agree = 0
        /// Labelled with another class.
        var disagree = 0
        /// Below `classify.min_confidence`: counted against the accuracy.
        var unknown = 0
        /// No true cell within 40 px of the reported centroid in the reported frame.
        var unmatched = 0
        /// Matched to a true cell that an earlier message of the same pass over the pool already
        /// reported: a cell counted twice (a broken track), whatever frames were dropped.
        var countedTwice = 0

        var accuracy: Double {
            let matched = agree + disagree + unknown
            return matched > 0 ? Double(agree) / Double(matched) : 0
        }

        enum CodingKeys: String, CodingKey {
            case agree, disagree, unknown, unmatched, accuracy, countedTwice = "counted_twice"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(agree, forKey: .agree)
            try c.encode(disagree, forKey: .disagree)
            try c.encode(unknown, forKey: .unknown)
            try c.encode(unmatched, forKey: .unmatched)
            try c.encode(accuracy, forKey: .accuracy)
            try c.encode(countedTwice, forKey: .countedTwice)
        }
    }

    var rate: Double
    /// The daemon's own account of its set-up (from /metrics): its frame workers (with worker
    /// processes, theirs summed).
    var workers: Int
    /// 0: one `flowd run`; N: an aggregator and N `--role worker` processes (docs/scale-out.md).
    var workerProcesses: Int
    var inferenceThreadsPerWorker: Int
    var blasCore: String
    /// /proc/loadavg's 1-minute figure before and after the trial.
    var loadAverage: [Double]
    var windowSeconds: Double
    var frames: Frames
    /// Losses by reason (all zero for a run that meets the bar).
    var drops: [String: Int]
    var dropsTotal: Int
    var framesPerSecond: Double
    /// Cells published per second.
    var cellsPerSecond: Double
    /// Cell views classified per second (the daemon's `flowd_classified_crops_total`).
    var classifiedPerSecond: Double
    var labels: Labels
    /// Per published cell: `latency_ms` of its `cell` message.
    var latencyMs: Latency
    /// Mean per frame in the window, from the daemon's stage histograms: arrival → processed
    /// (`frame`), reconstruction, classification (frames with cells).
    var stagesMs: [String: Double]
    /// CPU time (user + system) per frame processed in the window, of the daemon (or of the
    /// `worker` processes together and of the `aggregator`) and of this process (the camera, the
    /// fan-out with worker processes, and the subscriber): what the rate costs, whatever else runs.
    var cpuMsPerFrame: [String: Double]
    /// One plain FFTW r2c of the frame, ms, measured by this process right after the trial (one
    /// thread): `cpu_ms_per_frame.daemon` over it is the pipeline's cost in FFTs.
    var fftOnlyMs: Double
    var queueDepthMax: Int
    var queueCapacity: Int
    /// How late the camera (this process) sent its most delayed frame: a check on the load.
    var senderMaxLatenessMs: Double
    /// Cells published over the trial, and what the counting rule finds in the twin's truth.
    var cellsPublished: Int
    var cellsTrue: Int
    var met: Bool

    enum CodingKeys: String, CodingKey {
        case rate, workers, workerProcesses = "worker_processes", inferenceThreadsPerWorker = "inference_threads_per_worker", blasCore = "blas_core"
        case loadAverage = "load_average", windowSeconds = "window_seconds", frames, drops
        case dropsTotal = "drops_total", framesPerSecond = "frames_per_second", cellsPerSecond = "cells_per_second"
        case classifiedPerSecond = "classified_per_second", labels, latencyMs = "latency_ms", stagesMs = "stages_ms"
        case cpuMsPerFrame = "cpu_ms_per_frame", fftOnlyMs = "fft_only_ms"
        case queueDepthMax = "queue_depth_max", queueCapacity = "queue_capacity"
        case senderMaxLatenessMs = "sender_max_lateness_ms", cellsPublished = "cells_published"
        case cellsTrue = "cells_true", met
    }
}
