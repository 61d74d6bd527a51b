import Foundation
import Protocol
import Reconstruction
import Simulator
import Testing
import Tracking
import TwinFlowTestSupport

@Suite("The flow tracker counts each cell exactly once")
struct TrackingTests {
    @Test(
        "every simulated cell is one track, and the count equals the truth, with a speed guess and no field size, or with the field's size and no speed guess",
        arguments: [false, true])
    func exactlyOnce(knowsField: Bool) throws {
        var twin = try smallFlow(seed: 41)
        let reconstructor = try OffAxisReconstructor(reference: HologramImage(frame: twin.reference()), parameters: parameters(for: twin))
        let workspace = reconstructor.makeWorkspace()
        var tracker = FlowTracker(
            configuration: .init(velocity: knowsField ? nil : [twin.pixelsPerFrame, 0], gatePixels: 8 / twin.camera.optics.pixelUm))
        if knowsField { tracker.field = [Double(twin.flow.width), Double(twin.flow.height)] }
        var tracks: [FlowTracker.Track] = []
        var endedDuringRun = 0, reportedWhenLastSeen = 0
        var truthByFrame: [Int: [CellTruth]] = [:]
        var ids = Set<Int>()
        let frames = 120
        for i in 0..<frames {
            let (frame, truth) = twin.nextFrame()
            truthByFrame[i] = truth.cells
            let cells = try reconstructor.process(HologramImage(frame: frame), workspace: workspace, crops: false)
            let ended = tracker.update(frame: i, cells: cells)
            endedDuringRun += ended.count
            reportedWhenLastSeen += ended.filter { $0.appearances.last!.frame == i }.count
            tracks += ended
            // Only cells that were wholly in view at least once are expected to be counted.
            ids.formUnion(truth.cells.filter(\.fullyInside).map(\.id))
        }
        tracks += tracker.finish()
        // Attribute every appearance to the true cell it lies on; a track must be one cell.
        var tracksPerCell: [Int: Int] = [:]
        var partialOnly = 0
        for track in tracks {
            let owners = Set(track.appearances.compactMap { a in
                truthByFrame[a.frame]!.first { hypot(a.cell.x - $0.x, a.cell.y - $0.y) < $0.extentPixels }?.id
            })
            #expect(owners.count == 1, "track \(track.id) mixes cells \(owners)")
            guard let id = owners.first else { continue }
            // A cell still entering when the run stops was never wholly in view: not expected.
            if ids.contains(id) { tracksPerCell[id, default: 0] += 1 } else { partialOnly += 1 }
        }
        let doubles = tracksPerCell.filter { $0.value > 1 }
        let missed = ids.filter { tracksPerCell[$0] == nil }
        print("tracking: \(ids.count) cells, \(tracks.count) tracks (\(partialOnly) of cells cut by the run's end), \(doubles.count) counted twice, \(missed.count) missed")
        #expect(ids.count >= 100)
        #expect(doubles.isEmpty)
        #expect(missed.isEmpty)
        #expect(partialOnly <= 2)
        #expect(tracks.count - partialOnly == ids.count)
        if knowsField {
            // Cells leave through the far edge: almost every track ends with its last sighting.
            #expect(Double(reportedWhenLastSeen) >= 0.9 * Double(endedDuringRun))
        } else {
            #expect(reportedWhenLastSeen == 0, "without the field, a track ends only after its gap")
        }
    }
}
