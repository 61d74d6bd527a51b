import Testing
import Tracking

@testable import Reconstruction

/// Cells in a channel move at speeds set by their depth (Poiseuille flow): the tracker must not
/// assume one speed.
@Suite("Tracking cells whose speeds differ")
struct LaminarFlowTrackingTests {
    /// A whole round cell of 100 µm² at (x, y), 20 pixels across.
    static func cell(x: Double, y: Double) -> DetectedCell {
        DetectedCell(
            x: x, y: y, box: PixelBox(x: Int(x) - 10, y: Int(y) - 10, width: 20, height: 20), touchesEdge: false,
            features: CellFeatures(
                areaUm2: 100, meanOPDNm: 200, maxOPDNm: 300, phaseVolumeUm3: 20, dryMassPg: 111, aspectRatio: 1,
                ellipseFill: 1),
            crop: [], residues: 0, focusUm: nil, refocusFailed: false, rejection: nil)
    }

    @Test(
        "cells at 1×, 1.5× and 2× a speed in the same frames are each counted once, with or without a speed guess",
        arguments: [nil, 40.0])
    func speedsDifferByTwo(guess: Double?) {
        // Three lanes 30 px apart (the gate is 25 px); speeds 40, 60 and 80 px per frame; a new
        // cell enters every lane every 4 frames, so several cells of each speed are in view.
        let lanes: [(y: Double, speed: Double)] = [(100, 40), (130, 80), (160, 60)]
        var tracker = FlowTracker(configuration: .init(velocity: guess.map { [$0, 0] }, gatePixels: 25))
        tracker.field = [1000, 300]
        var tracks: [FlowTracker.Track] = []
        var entered = 0
        for frame in 0..<120 {
            var cells: [DetectedCell] = []
            for lane in lanes {
                // Cells that entered at frames 0, 4, 8, … (until frame 80), where they are now.
                for start in stride(from: 0, through: min(frame, 80), by: 4) {
                    let x = 15 + lane.speed * Double(frame - start)
                    if x < 985 { cells.append(Self.cell(x: x, y: lane.y)) }
                }
            }
            tracks += tracker.update(frame: frame, cells: cells.shuffled())
        }
        tracks += tracker.finish()
        for _ in lanes { entered += 21 }
        #expect(tracks.count == entered, "every cell is one track")
        for track in tracks {
            let ys = Set(track.appearances.map(\.cell.y))
            #expect(ys.count == 1, "a track stays in its lane")
            let steps = zip(track.appearances.dropFirst(), track.appearances).map { $0.cell.x - $1.cell.x }
            #expect(Set(steps).count <= 1, "a track never jumps between cells of different speeds")
        }
        let speeds = tracks.compactMap { $0.velocity?.x }
        #expect(Set(speeds.map { $0.rounded() }) == [40, 60, 80], "each track has its own velocity")
    }

    @Test("each open track tells where its cell will be in a later frame, at its own speed, with the focus it had")
    func focusHints() {
        var tracker = FlowTracker(configuration: .init(velocity: nil, gatePixels: 25))
        for frame in 0..<3 {
            var slow = Self.cell(x: 100 + 40 * Double(frame), y: 100)
            slow.focusUm = -4
            var fast = Self.cell(x: 100 + 80 * Double(frame), y: 200)
            fast.focusUm = 6.5
            let unfocused = Self.cell(x: 100 + 60 * Double(frame), y: 300)
            _ = tracker.update(frame: frame, cells: [slow, fast, unfocused])
        }
        let hints = tracker.focusHints(atFrame: 4).sorted { $0.y < $1.y }
        #expect(hints == [FocusHint(x: 260, y: 100, focusUm: -4), FocusHint(x: 420, y: 200, focusUm: 6.5)])
    }

    @Test("a track whose whole appearances are mostly rejected objects is a rejected object, by its most frequent reason")
    func rejectedByMajority() {
        var doublet = Self.cell(x: 100, y: 100)
        doublet.rejection = .irregular
        var tracker = FlowTracker(configuration: .init(velocity: nil, gatePixels: 25))
        _ = tracker.update(frame: 0, cells: [doublet])
        doublet.x += 50
        _ = tracker.update(frame: 1, cells: [Self.cell(x: 150, y: 100)])
        doublet.x += 50
        _ = tracker.update(frame: 2, cells: [doublet])
        let tracks = tracker.finish()
        #expect(tracks.count == 1)
        #expect(tracks[0].rejection == .irregular)
        #expect(tracks[0].best.cell.rejection == nil, "the view reported is the one that looked like a cell")
    }
}
