import CFFTW
import Dashboard
import Dispatch
import FFTWSupport
import Foundation
import Protocol
import Synchronization
import SystemSupport

/// Does the live dashboard slow the daemon when its feed carries many cells — more than the
/// twin's flow publishes (≈ 65–170 cells/s in `flowd bench pipeline`)? Issue 17 asks it at 1000
/// synthetic cells/s.
///
/// One process, alternating phases of equal length (no feed, feed, no feed, feed, …), so that the
/// machine's other load falls on both alike. In every phase `workers` threads do the frame work's
/// floor — one 2-D real-to-complex FFTW transform of a `size`² frame per frame (what
/// ``FFTOnlyTiming`` measures), paced at `rate` frames/s in all — and report their frames/s,
/// each frame's latency (due → done, ms) and CPU per frame. In a feed phase the workers also
/// offer `cellsPerSecond` synthetic cells (a 64×64 crop and a cell message's seven features) to
/// a ``CellFeed`` as the pipeline's publish path does, and `pages` reader threads each turn what
/// is new into the server-sent event a page gets every 0.5 s (``DashboardUpdate``, up to 1000
/// cells, what the monitoring server writes to the socket), plus one page that never reads (it
/// costs the feed nothing: a page pulls). The readers' CPU is what the dashboard takes from the
/// workers on a machine whose cores are all busy.
public struct FeedBenchmark: Sendable {
    public struct Phase: Codable {
        public var feed: Bool
        public var frames_per_second: Double
        public var latency_ms_p50: Double
        public var latency_ms_p99: Double
        /// Frames finished later than their worker's next frame was due (`workers / rate` after).
        public var frames_late: Int
        public var worker_cpu_ms_per_frame: Double
        public var cells_offered_per_second: Double
        /// Offers that found the feed's lock busy (the cell is not shown; the worker did not wait).
        public var cells_skipped: UInt64
        /// All readers together, ms of CPU per second of the phase.
        public var pages_cpu_ms_per_second: Double
        public var event_bytes_per_second: Double
    }

    public struct Report: Codable {
        public var size: Int
        public var rate: Double
        public var workers: Int
        public var pages: Int
        public var cells_per_second: Double
        public var seconds_per_phase: Double
        public var fft_only_ms: Double
        public var load_average: [Double]
        public var phases: [Phase]
    }

    let size: Int
    let rate: Double
    let workers: Int
    let pages: Int
    let cellsPerSecond: Double
    let secondsPerPhase: Double
    let rounds: Int

    public init(
        size: Int, rate: Double, workers: Int, pages: Int, cellsPerSecond: Double, secondsPerPhase: Double, rounds: Int
    ) {
        self.size = size
        self.rate = rate
        self.workers = workers
        self.pages = pages
        self.cellsPerSecond = cellsPerSecond
        self.secondsPerPhase = secondsPerPhase
        self.rounds = rounds
    }

    public func run(json: Bool) throws {
        let loadBefore = PipelineTrial.loadAverage()
        let fftOnly = FFTOnlyTiming.milliseconds(size: size, repeats: 20)
        let transforms = (0..<workers).map { _ in FrameTransform(size: size) }
        var phases: [Phase] = []
        for _ in 0..<rounds {
            for feed in [false, true] { phases.append(phase(feed: feed, transforms: transforms)) }
        }
        let report = Report(
            size: size, rate: rate, workers: workers, pages: pages, cells_per_second: cellsPerSecond,
            seconds_per_phase: secondsPerPhase, fft_only_ms: fftOnly, load_average: [loadBefore, PipelineTrial.loadAverage()], phases: phases)
        if json { try report.printJSON(); return }
        print("frame work: one \(size)² r2c FFT per frame (\(String(format: "%.2f", fftOnly)) ms), \(rate) frames/s on \(workers) workers")
        print("feed: \(cellsPerSecond) cells/s, \(pages) pages reading every 0.5 s + 1 never reading")
        print("phase    frames/s  p50 ms  p99 ms  late  worker CPU ms/frame  cells/s  skipped  pages CPU ms/s  event kB/s")
        for p in phases {
            print(
                String(
                    format: "%-8@ %8.1f %7.2f %7.2f %5d %20.3f %8.0f %8llu %15.2f %11.0f", p.feed ? "feed" : "no feed",
                    p.frames_per_second, p.latency_ms_p50, p.latency_ms_p99, p.frames_late, p.worker_cpu_ms_per_frame,
                    p.cells_offered_per_second, p.cells_skipped, p.pages_cpu_ms_per_second, p.event_bytes_per_second / 1e3))
        }
        print("load average before, after: \(report.load_average.map { String(format: "%.2f", $0) }.joined(separator: ", "))")
    }

    private func phase(feed: Bool, transforms: [FrameTransform]) -> Phase {
        let cellFeed = CellFeed()
        let frames = Int(rate * secondsPerPhase)
        let interval = 1e9 / rate
        let cellsPerFrame = feed ? cellsPerSecond / rate : 0
        let start = DispatchTime.now().uptimeNanoseconds + 50_000_000
        let done = Atomic<Bool>(false)
        let pageCPU = Atomic<UInt64>(0), pageBytes = Atomic<UInt64>(0)
        let readers = (0..<(feed ? pages : 0)).map { _ in
            Thread {
                var cursor: UInt64 = 0
                while !done.load(ordering: .relaxed) {
                    Thread.sleep(forTimeInterval: 0.5)
                    let before = threadCPUNanoseconds()
                    let (points, crops, next) = cellFeed.read(after: cursor, maxCells: 1000)
                    cursor = next
                    let event = DashboardUpdate(status: .object([:]), points: points, crops: crops).serverSentEvent()
                    pageCPU.wrappingAdd(threadCPUNanoseconds() - before, ordering: .relaxed)
                    pageBytes.wrappingAdd(UInt64(event.utf8.count), ordering: .relaxed)
                }
            }
        }
        readers.forEach { $0.start() }
        let results = Mutex<(latencies: [Double], cpu: UInt64, offered: Int)>(([], 0, 0))
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var latencies: [Double] = []
            var offered = 0
            var owed = 0.0
            let crop = [Float](repeating: 50, count: 64 * 64)
            let cpuStart = threadCPUNanoseconds()
            for k in stride(from: w, to: frames, by: workers) {
                let due = start + UInt64(Double(k) * interval)
                let now = DispatchTime.now().uptimeNanoseconds
                if now < due { usleep(UInt32((due - now) / 1000)) }
                transforms[w].execute()
                owed += cellsPerFrame
                while owed >= 1 {
                    cellFeed.offer(Self.cell(offered * workers + w), crop: crop)
                    offered += 1
                    owed -= 1
                }
                latencies.append(Double(DispatchTime.now().uptimeNanoseconds &- due) / 1e6)
            }
            let cpu = threadCPUNanoseconds() - cpuStart
            results.withLock {
                $0.latencies += latencies
                $0.cpu += cpu
                $0.offered += offered
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        done.store(true, ordering: .relaxed)
        return results.withLock { r in
            let sorted = r.latencies.sorted()
            return Phase(
                feed: feed, frames_per_second: Double(frames) / seconds, latency_ms_p50: sorted.nearestRank(0.5) ?? 0,
                latency_ms_p99: sorted.nearestRank(0.99) ?? 0, frames_late: sorted.filter { $0 > interval / 1e6 * Double(workers) }.count,
                worker_cpu_ms_per_frame: Double(r.cpu) / 1e6 / Double(frames),
                cells_offered_per_second: Double(r.offered) / seconds, cells_skipped: cellFeed.skipped,
                pages_cpu_ms_per_second: Double(pageCPU.load(ordering: .relaxed)) / 1e6 / seconds,
                event_bytes_per_second: Double(pageBytes.load(ordering: .relaxed)) / seconds)
        }
    }

    /// A synthetic cell: one of four labels, the seven features a cell message carries.
    private static func cell(_ index: Int) -> CellMessage {
        let labels = ["healthy", "primary_cancer", "metastatic_cancer", "unknown"]
        let wobble = Double(index % 97)
        return CellMessage(
            camera: "bench", cellID: UInt64(index), seq: nil, tNanoseconds: nil, xPixels: 0, yPixels: 0, bbox: [0, 0, 64, 64],
            label: labels[index % 4], probabilities: [:],
            features: [
                "dry_mass_pg": 80 + wobble, "area_um2": 120 + wobble, "mean_opd_nm": 90, "max_opd_nm": 300,
                "phase_volume_um3": 40, "aspect_ratio": 1.1, "ellipse_fill": 0.9,
            ], framesSeen: 6, latencyMilliseconds: 0)
    }
}

/// One worker's FFTW r2c plan of a `size`² frame and its buffers (FFTW_MEASURE, planned under
/// the process's one planner lock).
private final class FrameTransform: @unchecked Sendable {
    // Unchecked: each instance is used by one worker thread only.
    private let input: AlignedBuffer<Float>
    private let output: AlignedBuffer<fftwf_complex>
    private let plan: fftwf_plan

    init(size: Int) {
        input = AlignedBuffer<Float>(count: size * size, initial: 0)
        output = AlignedBuffer<fftwf_complex>(count: size * (size / 2 + 1), initial: (0, 0))
        plan = FFTWPlanner.withLock { [input, output] in
            fftwf_plan_dft_r2c_2d(Int32(size), Int32(size), input.pointer, output.pointer, UInt32(FFTW_MEASURE))!
        }
        for i in 0..<(size * size) { input[i] = Float(i % 251) }
    }

    deinit { FFTWPlanner.withLock { fftwf_destroy_plan(plan) } }

    func execute() { fftwf_execute(plan) }
}
