import CFFTW
import FFTWSupport
import Foundation
import Reconstruction
import Simulator
import SystemSupport

/// `flowd bench reconstruct`: frames per second per core of the whole reconstruction (FFT,
/// filter, inverse FFT, phase, background, segmentation, unwrapping, features, crops) on the
/// digital twin's holograms, next to the plain FFTW r2c of the same size measured in the same run
/// (the floor everyone pays). Single thread; the totals in thread CPU time (robust to other
/// processes' load), the stages in wall time.
public struct ReconstructBenchmark {
    /// Hologram width and height, pixels.
    public var size: Int
    /// Frames to time (after one warm-up pass).
    public var frames: Int
    /// Camera bit depth of the simulated holograms: 8, 12 or 16.
    public var bitDepth: Int
    /// Distinct simulated holograms cycled through.
    public var holograms: Int
    /// Print JSON instead of a table.
    public var json: Bool

    public init(size: Int, frames: Int, bitDepth: Int, holograms: Int, json: Bool) {
        (self.size, self.frames, self.bitDepth, self.holograms, self.json) = (size, frames, bitDepth, holograms, json)
    }

    public func run() throws {
        var optics = RigOptics()
        optics.bitDepth = bitDepth
        var flow = FlowConfiguration()
        flow.width = size
        flow.height = size
        // Dense enough that every frame shows a few cells to segment, unwrap and measure.
        flow.concentrationPerMicrolitre = 8000 * (1024.0 / Double(size))
        var twin = try DigitalTwin(flow: flow, optics: optics)
        var parameters = ReconstructionParameters()
        parameters.pixelUm = optics.pixelUm
        parameters.wavelengthNm = optics.wavelengthNm
        for _ in 0..<10 { _ = twin.nextFrame() }  // let the flow fill the field
        let images = (0..<holograms).map { _ in HologramImage(frame: twin.nextFrame().frame) }
        let reconstructor = try OffAxisReconstructor(reference: HologramImage(frame: twin.reference()), parameters: parameters)
        let workspace = reconstructor.makeWorkspace()
        var cellCount = 0
        for image in images { cellCount += try reconstructor.process(image, workspace: workspace).count }
        let timings = StageTimings()
        workspace.timings = timings
        let start = threadCPUNanoseconds()
        for i in 0..<frames { _ = try reconstructor.process(images[i % images.count], workspace: workspace) }
        let seconds = Double(threadCPUNanoseconds() - start) * 1e-9
        let fftOnlyMs = FFTOnlyTiming.milliseconds(size: size, repeats: frames)

        let msPerFrame = seconds / Double(frames) * 1000
        var stages: [String: Double] = [:]
        for stage in Stage.allCases { stages[stage.rawValue] = timings[stage] / Double(frames) * 1000 }
        let report = BenchReconstructReport(
            size: size, bitDepth: bitDepth, frames: frames, fieldShape: [reconstructor.fieldRows, reconstructor.fieldCols],
            cellsPerFrame: Double(cellCount) / Double(images.count), msPerFrame: msPerFrame,
            framesPerSecondPerCore: 1000 / msPerFrame, fftOnlyMs: fftOnlyMs, stagesMs: stages,
            refocusMsPerCell: stages[Stage.refocus.rawValue]! / max(Double(cellCount) / Double(images.count), 1e-9))
        if json {
            try report.printJSON()
        } else {
            print("flowd bench reconstruct: \(size)² \(bitDepth)-bit holograms, \(frames) frames, one core")
            print("  field grid \(reconstructor.fieldRows)×\(reconstructor.fieldCols), \(String(format: "%.1f", report.cellsPerFrame)) cells/frame")
            for stage in Stage.allCases { print("  \(stage.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(String(format: "%7.3f", stages[stage.rawValue]!)) ms") }
            print(String(format: "  total        %7.3f ms/frame = %.0f frames/s per core", msPerFrame, report.framesPerSecondPerCore))
            print(String(format: "  FFTW r2c %d² alone (MEASURE plan): %.3f ms", size, report.fftOnlyMs))
            print(String(format: "  refocusing: %.3f ms per cell", report.refocusMsPerCell))
        }
    }
}

/// The JSON of `flowd bench reconstruct --json`.
struct BenchReconstructReport: Codable {
    var size: Int
    var bitDepth: Int
    var frames: Int
    var fieldShape: [Int]
    var cellsPerFrame: Double
    var msPerFrame: Double
    var framesPerSecondPerCore: Double
    var fftOnlyMs: Double
    var stagesMs: [String: Double]
    /// Refocusing's time per cell found (it refocuses every object region, cells or not), ms.
    var refocusMsPerCell: Double

    enum CodingKeys: String, CodingKey {
        case size, bitDepth = "bit_depth", frames, fieldShape = "field_shape", cellsPerFrame = "cells_per_frame"
        case msPerFrame = "ms_per_frame", framesPerSecondPerCore = "frames_per_second_per_core"
        case fftOnlyMs = "fft_only_ms", stagesMs = "stages_ms", refocusMsPerCell = "refocus_ms_per_cell"
    }
}
