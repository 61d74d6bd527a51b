import Foundation
import Protocol
import Reconstruction

/// The FCS parameters of a run's cells, and one cell message as one event (float32 values).
///
/// Parameters, in order: `Time` (s from the run's start to the cell's publishing; the cell was
/// seen `latency_ms` earlier), `camera` (index into the `FLOWD_CAMERAS` keyword), `class`
/// (index into `FLOWD_CLASSES`: the model's classes in its order, then `unknown` (below
/// `classify.min_confidence`), then `unclassified` (no model)), `prob_<class>` for each of the
/// model's classes, the ``CellFeatures`` (`area_um2` … `ellipse_fill`), `focus_um`,
/// `velocity_um_s`, `frames_seen` and
/// `latency_ms`. A value the message does not carry (a non-finite feature) is NaN.
struct CellEventLayout: Sendable {
    /// The model's classes (empty without a model).
    let modelClasses: [String]
    let parameters: [FCSWriter.Parameter]

    /// `FLOWD_CLASSES`: what each value of the `class` parameter means.
    var classNames: [String] { modelClasses + ["unknown", "unclassified"] }

    private let classIndex: [String: Int]

    /// Measurements beyond the ``CellFeatures`` that a `cell` message carries: name,
    /// description, range.
    static let trackFeatures: [(String, String, Float)] = [
        ("focus_um", "distance the field was propagated to be in focus, µm (NaN: not refocused)", 1000),
        ("velocity_um_s", "speed through the field, µm/s (NaN: no frame timestamps)", 1e7),
    ]
    /// Every feature parameter, in order.
    static let featureNames = CellFeatures.names + trackFeatures.map(\.0)

    init(modelClasses: [String], maxCameras: Int) {
        self.modelClasses = modelClasses
        var parameters: [FCSWriter.Parameter] = [
            .init(name: "Time", description: "seconds from the run's start to the cell's publishing", range: 1e7),
            .init(name: "camera", description: "camera index into FLOWD_CAMERAS", range: Float(maxCameras + 1)),
            .init(name: "class", description: "class index into FLOWD_CLASSES", range: Float(modelClasses.count + 2)),
        ]
        for name in modelClasses {
            // $PnN may not contain commas (FCS 3.1 §3.2.20).
            let short = "prob_" + name.replacingOccurrences(of: ",", with: "_")
            parameters.append(.init(name: short, description: "fused probability of class \(name)", range: 1))
        }
        let features: [(String, Float)] = [
            ("projected area, µm²", 1e4), ("mean OPD, nm", 1e4), ("max OPD, nm", 1e4), ("phase volume, µm³", 1e5),
            ("dry mass, pg", 1e5), ("aspect ratio of the moment ellipse", 100), ("area / ellipse area", 2),
        ]
        for (name, (description, range)) in zip(Self.featureNames, features + Self.trackFeatures.map { ($0.1, $0.2) }) {
            parameters.append(.init(name: name, description: description, range: range))
        }
        parameters.append(.init(name: "frames_seen", description: "frames the cell appeared in", range: 1e4))
        parameters.append(
            .init(name: "latency_ms", description: "ms from the best frame's arrival to publishing", range: 1e5))
        self.parameters = parameters
        // A model class named "unknown" keeps its own index (the first one).
        classIndex = Dictionary(
            (modelClasses + ["unknown", "unclassified"]).enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The event of `message`, published `seconds` after the run started, seen by camera
    /// number `camera`. A label outside ``classNames`` (none is: a model swap keeps the
    /// classes) would be NaN rather than a wrong class.
    func event(_ message: CellMessage, seconds: Double, camera: Int) -> [Float] {
        var values: [Float] = [Float(seconds), Float(camera), classValue(of: message.label)]
        values.reserveCapacity(parameters.count)
        for name in modelClasses { values.append(message.probabilities[name].map(Float.init) ?? .nan) }
        for name in Self.featureNames { values.append(message.features[name].map(Float.init) ?? .nan) }
        values.append(Float(message.framesSeen))
        values.append(Float(message.latencyMilliseconds))
        return values
    }

    /// The `class` value of `label`: its index into ``classNames`` (NaN for another label).
    func classValue(of label: String) -> Float {
        classIndex[label].map(Float.init) ?? .nan
    }
}
