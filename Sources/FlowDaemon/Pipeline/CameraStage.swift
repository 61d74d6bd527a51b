import Foundation
import FrameIngest
import Protocol
import Reconstruction

/// One camera's part of the pipeline: its reference hologram (collected from its first frames
/// unless configured), and the reorder buffer and tracker that see its frames in order.
///
/// Workers call in concurrently; every method takes the stage's lock. Tracks that end are
/// handed to the caller's `publish` while the lock is held, so cell ids and messages leave in
/// the order the cells finished.
final class CameraStage: @unchecked Sendable {
    // Sendable: every field below is read and written under `lock`.
    private enum Phase {
        /// Frames held back until there are enough for the median reference.
        case collecting([ReceivedFrame])
        case ready(OffAxisReconstructor)
    }

    /// What a worker does with a frame it took.
    enum Admission {
        /// Reconstruct these frames (one, or the frames held back for the reference).
        case process(OffAxisReconstructor, [ReceivedFrame])
        /// Count these frames as rejected.
        case reject([ReceivedFrame], RejectionReason, String)
        /// Held back until the reference exists.
        case held
    }

    /// Builds a reconstructor from a camera's first frames.
    typealias ReferenceBuilder = ([ReceivedFrame]) throws -> OffAxisReconstructor
    typealias Publish = (_ track: FlowTracker.Track, _ frame: FrameResult?, _ cellID: UInt64) -> Void

    let camera: String
    private let lock = NSLock()
    private var phase: Phase
    private var reorder = ReorderBuffer<FrameResult>()
    private var tracker: FlowTracker
    /// Header data of the frames that open tracks may still report (by ordinal).
    private var frames: [Int: FrameResult] = [:]
    private var nextCellID: UInt64 = 0

    /// `reconstructor`: the configured reference's; `nil` to build one from the first frames.
    init(camera: String, reconstructor: OffAxisReconstructor?, tracking: FlowTracker.Configuration) {
        self.camera = camera
        phase = reconstructor.map(Phase.ready) ?? .collecting([])
        tracker = FlowTracker(configuration: tracking)
    }

    /// Decides what happens to `frame`: processed now, held back for the reference (processed
    /// once it exists, by the worker that completes it), or rejected because its size differs
    /// from the reference's (or from the first frame's while collecting).
    func admit(_ frame: ReceivedFrame, referenceFrames: Int, build: ReferenceBuilder) -> Admission {
        lock.lock()
        defer { lock.unlock() }
        let rows = frame.frame.header.rows, cols = frame.frame.header.cols
        switch phase {
        case .ready(let reconstructor):
            guard rows == reconstructor.rows, cols == reconstructor.cols else {
                return .reject(
                    [frame], .shapeChanged,
                    "frame is \(rows)×\(cols) but the camera's reference is \(reconstructor.rows)×\(reconstructor.cols)")
            }
            return .process(reconstructor, [frame])
        case .collecting(var held):
            if let first = held.first?.frame.header, first.rows != rows || first.cols != cols {
                return .reject(
                    [frame], .shapeChanged,
                    "frame is \(rows)×\(cols) but the frames collected for the camera's reference are \(first.rows)×\(first.cols)")
            }
            held.append(frame)
            guard held.count >= referenceFrames else {
                phase = .collecting(held)
                return .held
            }
            return complete(held, build: build)
        }
    }

    /// At shutdown: builds the reference from the frames held so far, if the camera sent fewer
    /// than `reconstruction.reference_frames`, so that they are processed too.
    func completeReference(build: ReferenceBuilder) -> Admission {
        lock.lock()
        defer { lock.unlock() }
        guard case .collecting(let held) = phase, !held.isEmpty else { return .held }
        return complete(held, build: build)
    }

    private func complete(_ held: [ReceivedFrame], build: ReferenceBuilder) -> Admission {
        do {
            let reconstructor = try build(held)
            phase = .ready(reconstructor)
            return .process(reconstructor, held)
        } catch {
            // Start over with the next frames; these are accounted as rejected.
            phase = .collecting([])
            return .reject(held, .noReference, "cannot build the camera's reference from its first frames: \(error)")
        }
    }

    /// Hands a processed (or rejected) frame to the tracker once every earlier frame of the
    /// camera has been, and publishes the tracks that ended.
    func deliver(_ result: FrameResult, publish: Publish) {
        lock.lock()
        defer { lock.unlock() }
        for ready in reorder.insert(result, ordinal: result.ordinal) { track(ready, publish: publish) }
    }

    /// At shutdown, once every worker has returned: releases anything still waiting for an
    /// earlier frame, and ends every open track, so that every cell still in view is reported.
    func finish(publish: Publish) {
        lock.lock()
        defer { lock.unlock() }
        for ready in reorder.drain() { track(ready, publish: publish) }
        report(tracker.finish(), publish: publish)
        frames.removeAll()
    }

    private func track(_ result: FrameResult, publish: Publish) {
        guard let cells = result.cells else { return }
        let frame = Int(result.ordinal)
        if !cells.isEmpty { frames[frame] = result }
        report(tracker.update(frame: frame, cells: cells), publish: publish)
        let oldest = tracker.oldestOpenFrame ?? frame + 1
        frames = frames.filter { $0.key >= oldest }
    }

    private func report(_ tracks: [FlowTracker.Track], publish: Publish) {
        for track in tracks.sorted(by: { $0.id < $1.id }) where track.wasWhollyInView {
            publish(track, frames[track.best.frame], nextCellID)
            nextCellID += 1
        }
    }
}
