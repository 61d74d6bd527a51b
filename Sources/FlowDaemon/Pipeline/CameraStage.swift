import Foundation
import FrameIngest
import Protocol
import Reconstruction
import Tracking

/// One camera's part of the pipeline: its reference hologram (collected from its first frames
/// unless configured), and the reorder buffer and tracker that see its frames in order.
///
/// Workers call in concurrently; every method takes the stage's lock. Tracks that are complete
/// get their cell ids under the lock, in the order the cells finished, and go back to the
/// worker, which labels them without the lock (so that the other workers' frames are not held
/// up by the classifier) and hands them to ``releaseInOrder(cellID:_:)``, which lets them leave
/// in cell-id order.
final class CameraStage: @unchecked Sendable {
    // Sendable: every field below is read and written under `condition`'s lock, except
    // `outgoing`, under `releasing`'s.
    private enum Phase {
        /// Frames held back until there are enough for the median reference.
        case collecting([ReceivedFrame])
        /// One worker is making the reference from the held frames (about 1 s at 1024², most
        /// of it FFT planning); the others keep taking frames off the queue into `backlog`.
        case building(rows: Int, cols: Int)
        case ready(OffAxisReconstructor)
    }

    /// What a worker does with a frame it took.
    enum Admission {
        /// Reconstruct these frames.
        case process(OffAxisReconstructor, [ReceivedFrame])
        /// Make the reference from these frames, then ``install(_:from:)`` it.
        case build([ReceivedFrame])
        /// Count these frames as rejected.
        case reject([ReceivedFrame], RejectionReason, String)
        /// Held back until the reference exists.
        case held
    }

    /// A complete track that counts as a cell, with the frames of its best appearance and of its
    /// last one (`nil` only if a frame's header data was not kept), and its cell id.
    struct CompletedCell {
        var track: FlowTracker.Track
        var best: FrameResult?
        var lastSeen: FrameResult?
        var cellID: UInt64
        /// The cell's speed, hologram pixels per second: its displacement between its first and
        /// last whole appearances over the time between their frames (the camera's `t_ns`);
        /// `nil` without two whole appearances in frames with timestamps.
        var pixelsPerSecond: Double?
    }

    /// A complete track that is not a cell (``ObjectRejection``): what `rejects.rtdc` records.
    struct RejectedObject {
        var track: FlowTracker.Track
        var reason: ObjectRejection
        /// As in ``CompletedCell``.
        var best: FrameResult?
        var lastSeen: FrameResult?
        var pixelsPerSecond: Double?
    }

    /// Most frames held while a reference is made (1024 MiB at 1024² uint8); beyond it a worker
    /// waits, and the ingest queue, full, drops and counts what arrives.
    static let backlogLimit = 1024

    let camera: String
    /// The camera's phase sign: fixed by `reconstruction.phase_sign`, or decided by its first
    /// frame that shows an object and kept for the run (shared by the workers, thread-safe).
    let phaseSign: PhaseSignState
    private let condition = NSCondition()
    private var phase: Phase
    /// Frames taken off the queue while the reference was made, oldest first: processed one per
    /// call before newer frames, so that the camera catches up in order.
    private var backlog: [ReceivedFrame] = []
    private var reorder = ReorderBuffer<FrameResult>()
    private var tracker: FlowTracker
    /// Header data of the frames that open tracks may still report (by ordinal).
    private var frames: [Int: FrameResult] = [:]
    private var nextCellID: UInt64 = 0
    /// `reconstruction.reference_refresh_s` in ns (0: never), when the reference in use was made
    /// (monotonic ns), and the frames being collected for the next one (`nil`: not collecting).
    private let refreshInterval: UInt64
    private var referenceMadeAt: UInt64
    private var refreshFrames: [ReceivedFrame]?
    /// A refreshed reference is being made from collected frames: none are collected meanwhile.
    private var refreshing = false
    /// The last frame's background residual (``BackgroundPlane/residualRms``), nm, and the
    /// references made from running frames so far: what `/metrics` reports of reference drift.
    private var backgroundRmsNm = 0.0
    private var referenceRefreshes = 0
    /// Counts (and records) an object that is not a cell, under the stage's lock.
    private let rejectedObject: @Sendable (RejectedObject) -> Void
    /// Labelled cells waiting for a smaller cell id, under `releasing` (not `condition`).
    private let releasing = NSLock()
    private var outgoing = ReorderBuffer<() -> Void>()

    /// `reconstructor`: the configured reference's; `nil` to build one from the first frames.
    /// `rejectedObject` gets each track wholly in view at least once that is not a cell, once.
    init(
        camera: String, reconstructor: OffAxisReconstructor?, phaseSign: PhaseSign, tracking: FlowTracker.Configuration,
        referenceRefreshSeconds: Double = 0,
        rejectedObject: @escaping @Sendable (RejectedObject) -> Void = { _ in }
    ) {
        self.camera = camera
        refreshInterval = UInt64(max(0, referenceRefreshSeconds) * 1e9)
        referenceMadeAt = DispatchTime.now().uptimeNanoseconds
        self.rejectedObject = rejectedObject
        self.phaseSign = PhaseSignState(phaseSign)
        phase = reconstructor.map(Phase.ready) ?? .collecting([])
        tracker = FlowTracker(configuration: tracking)
        if let reconstructor { tracker.field = Self.field(of: reconstructor) }
    }

    /// The frame size the tracker needs to see a cell leave (its width along x).
    private static func field(of reconstructor: OffAxisReconstructor) -> SIMD2<Double> {
        [Double(reconstructor.cols), Double(reconstructor.rows)]
    }

    /// Decides what happens to `frame`: processed (or, while a backlog remains, the backlog's
    /// oldest frame is processed and `frame` joins it), held for the reference, the reference
    /// to be made, or rejected because its size differs from the reference's (or from the
    /// first held frame's).
    func admit(_ frame: ReceivedFrame, referenceFrames: Int) -> Admission {
        condition.lock()
        defer { condition.unlock() }
        let rows = frame.frame.header.rows, cols = frame.frame.header.cols
        func changed(_ expected: (Int, Int)) -> Admission {
            .reject(
                [frame], .shapeChanged,
                "frame is \(rows)×\(cols) but the camera's reference is (being made) \(expected.0)×\(expected.1)")
        }
        while case .building(let r, let c) = phase {
            guard rows == r, cols == c else { return changed((r, c)) }
            if backlog.count < Self.backlogLimit {
                backlog.append(frame)
                return .held
            }
            condition.wait()
        }
        switch phase {
        case .building:
            preconditionFailure("left the loop above only once the reference is made or abandoned")
        case .ready(let reconstructor):
            guard rows == reconstructor.rows, cols == reconstructor.cols else {
                return changed((reconstructor.rows, reconstructor.cols))
            }
            guard !backlog.isEmpty else { return .process(reconstructor, [frame]) }
            backlog.append(frame)
            return .process(reconstructor, [backlog.removeFirst()])
        case .collecting(var held):
            if let first = held.first?.frame.header, first.rows != rows || first.cols != cols {
                return changed((first.rows, first.cols))
            }
            held.append(frame)
            guard held.count >= referenceFrames else {
                phase = .collecting(held)
                return .held
            }
            phase = .building(rows: rows, cols: cols)
            return .build(held)
        }
    }

    /// Installs the reference made from `held` (or, on failure, rejects them and starts
    /// collecting again from the backlog), and returns the first frame to process.
    func install(_ made: Result<OffAxisReconstructor, any Error>, from held: [ReceivedFrame]) -> Admission {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        switch made {
        case .success(let reconstructor):
            phase = .ready(reconstructor)
            referenceMadeAt = DispatchTime.now().uptimeNanoseconds
            tracker.field = Self.field(of: reconstructor)
            backlog = held + backlog
            return .process(reconstructor, [backlog.removeFirst()])
        case .failure(let error):
            phase = .collecting(backlog)
            backlog = []
            return .reject(held, .noReference, "cannot build the camera's reference from its first frames: \(error)")
        }
    }

    /// The oldest frame of the backlog, for a worker that found the queue empty.
    func takeBacklog() -> (OffAxisReconstructor, ReceivedFrame)? {
        condition.lock()
        defer { condition.unlock() }
        guard case .ready(let reconstructor) = phase, !backlog.isEmpty else { return nil }
        return (reconstructor, backlog.removeFirst())
    }

    /// At shutdown: the frames held for a reference not made yet (the camera sent fewer than
    /// `reconstruction.reference_frames`), to make it from them so that they are processed too.
    func completeReference() -> Admission {
        condition.lock()
        defer { condition.unlock() }
        guard case .collecting(let held) = phase, !held.isEmpty else { return .held }
        phase = .building(rows: held[0].frame.header.rows, cols: held[0].frame.header.cols)
        return .build(held)
    }

    /// The last frame's background residual, nm RMS, and the references refreshed so far.
    /// Where the cells tracked so far are expected in the frame of `ordinal`, with their focus
    /// (``FlowTracker/focusHints(atFrame:)``): read before that frame is reconstructed, so
    /// that its cells' focus search starts where their tracks' last one ended.
    func focusHints(forFrame ordinal: UInt64) -> [FocusHint] {
        condition.withLock { tracker.focusHints(atFrame: Int(ordinal)) }
    }

    var referenceHealth: (backgroundRmsNm: Double, refreshes: Int) {
        condition.withLock { (backgroundRmsNm, referenceRefreshes) }
    }

    /// Reference refresh: once `reconstruction.reference_refresh_s` has passed since the
    /// reference in use was made, the next `count` frames processed are collected; this returns
    /// them, once, to the worker that completes the set, which makes their median reference
    /// (cells move, so the median is cell-free) and ``replaceReference(_:)``s.
    func collectForRefresh(_ frame: ReceivedFrame, count: Int) -> [ReceivedFrame]? {
        guard refreshInterval > 0 else { return nil }
        condition.lock()
        defer { condition.unlock() }
        guard case .ready = phase, !refreshing, DispatchTime.now().uptimeNanoseconds &- referenceMadeAt >= refreshInterval
        else { return nil }
        var frames = refreshFrames ?? []
        frames.append(frame)
        guard frames.count >= count else {
            refreshFrames = frames
            return nil
        }
        refreshFrames = nil
        refreshing = true
        return frames
    }

    /// Puts a refreshed reference in service (`nil`: making it failed; the old one stays, and
    /// the next refresh is tried one interval later).
    func replaceReference(_ reconstructor: OffAxisReconstructor?) {
        condition.lock()
        defer { condition.unlock() }
        if let reconstructor {
            phase = .ready(reconstructor)
            referenceRefreshes += 1
        }
        refreshing = false
        referenceMadeAt = DispatchTime.now().uptimeNanoseconds
    }

    /// Hands a processed (or rejected) frame to the tracker once every earlier frame of the
    /// camera has been, and returns the cells that are complete: every one must then be handed
    /// to ``releaseInOrder(cellID:_:)``.
    func track(_ result: FrameResult) -> [CompletedCell] {
        condition.lock()
        defer { condition.unlock() }
        return reorder.insert(result, ordinal: result.ordinal).flatMap(feedTracker)
    }

    /// As ``track(_:)`` for a result already in the camera's frame order (an aggregator's,
    /// whose frames come from several workers and were put in order by `seq`), with the frame
    /// size the tracker sees cells leave by, columns × rows.
    func trackInOrder(_ result: FrameResult, field: SIMD2<Double>) -> [CompletedCell] {
        condition.lock()
        defer { condition.unlock() }
        tracker.field = field
        return feedTracker(result)
    }

    /// At shutdown, once every worker has returned: releases anything still waiting for an
    /// earlier frame, and ends every open track, so that every cell still in view is reported.
    func finish() -> [CompletedCell] {
        condition.lock()
        defer { condition.unlock() }
        let cells = reorder.drain().flatMap(feedTracker) + count(tracker.finish())
        frames.removeAll()
        return cells
    }

    /// Runs `send` for cell `cellID` once the cells with smaller ids have been sent: workers
    /// label cells in parallel and may finish them out of order. Every id ``track(_:)`` or
    /// ``finish()`` returned must come here exactly once, or later cells wait forever.
    func releaseInOrder(cellID: UInt64, _ send: @escaping () -> Void) {
        releasing.lock()
        defer { releasing.unlock() }
        for ready in outgoing.insert(send, ordinal: cellID) { ready() }
    }

    private func feedTracker(_ result: FrameResult) -> [CompletedCell] {
        guard let cells = result.cells else { return [] }
        if let rms = result.backgroundRmsNm { backgroundRmsNm = rms }
        let frame = Int(result.flowFrame)
        if !cells.isEmpty { frames[frame] = result }
        let completed = count(tracker.update(frame: frame, cells: cells))
        let oldest = tracker.oldestOpenFrame ?? frame + 1
        frames = frames.filter { $0.key >= oldest }
        return completed
    }

    /// Gives the tracks that count (wholly in view at least once) and are cells their cell ids;
    /// those that are not cells go to `rejectedObject`.
    private func count(_ tracks: [FlowTracker.Track]) -> [CompletedCell] {
        let whole = tracks.sorted { $0.id < $1.id }.filter(\.wasWhollyInView)
        for track in whole {
            guard let reason = track.rejection else { continue }
            rejectedObject(
                RejectedObject(
                    track: track, reason: reason, best: frames[track.best.frame], lastSeen: frames[track.appearances.last!.frame],
                    pixelsPerSecond: speed(of: track)))
        }
        return whole.filter { $0.rejection == nil }.map { track in
            defer { nextCellID += 1 }
            return CompletedCell(
                track: track, best: frames[track.best.frame], lastSeen: frames[track.appearances.last!.frame],
                cellID: nextCellID, pixelsPerSecond: speed(of: track))
        }
    }

    /// See ``CompletedCell/pixelsPerSecond``.
    private func speed(of track: FlowTracker.Track) -> Double? {
        let whole = track.appearances.filter { !$0.cell.touchesEdge }
        guard let first = whole.first, let last = whole.last, last.frame > first.frame,
            let t0 = frames[first.frame]?.tNanoseconds, let t1 = frames[last.frame]?.tNanoseconds, t1 > t0
        else { return nil }
        let dx = last.cell.x - first.cell.x, dy = last.cell.y - first.cell.y
        return (dx * dx + dy * dy).squareRoot() / (Double(t1 - t0) / 1e9)
    }
}
