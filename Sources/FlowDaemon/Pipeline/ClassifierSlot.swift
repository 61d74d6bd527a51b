import Foundation
import Inference
import Synchronization

/// Which ``Classifier`` labels cells, swappable while the pipeline runs, and the live
/// `classify.min_confidence`.
///
/// A worker reads ``current`` once per frame (a lock and a reference count, no allocation): a
/// frame in flight during a swap finishes with the classifier it took. A swap takes only a
/// compatible model: the same classes in the same order (they are the run's FCS columns and the
/// meaning of its counts), the same crop size and pixel pitch (the reconstructors cut crops for
/// them). Anything else needs a restart; a track seen by both models fuses both their views,
/// which estimate the same classes.
final class ClassifierSlot: Sendable {
    /// The classes of every classifier of this pipeline; nil when it runs without a model (it
    /// then never gets one: that changes what is recorded, so it needs a restart).
    let classes: [String]?
    private let inputSize: Int
    private let pixelMicrometres: Double
    private let slot: Mutex<Classifier?>
    /// `classify.min_confidence`, as its bit pattern.
    private let minConfidenceBits: Atomic<UInt64>

    init(_ classifier: Classifier?, minConfidence: Double) {
        classes = classifier?.model.classes
        inputSize = classifier?.model.inputSize ?? 0
        pixelMicrometres = classifier?.model.pixelMicrometres ?? 0
        slot = Mutex(classifier)
        minConfidenceBits = Atomic(minConfidence.bitPattern)
    }

    /// The classifier for the next frame; nil without a model.
    var current: Classifier? { slot.withLock { $0 } }

    /// A cell whose largest fused probability is below this is labelled `unknown`.
    var minConfidence: Double {
        get { Double(bitPattern: minConfidenceBits.load(ordering: .relaxed)) }
        set { minConfidenceBits.store(newValue.bitPattern, ordering: .relaxed) }
    }

    /// Why `model` cannot replace the current one, or nil if it can.
    func incompatibility(of model: Model) -> String? {
        guard let classes else {
            return "flowd runs without a model (model.path was none at start); restart it to classify"
        }
        if model.classes != classes {
            return "its classes \(model.classes) differ from the running model's \(classes); restart flowd to change classes"
        }
        if model.inputSize != inputSize || abs(model.pixelMicrometres - pixelMicrometres) > 1e-9 {
            return "its input (\(model.inputSize)² crops of \(model.pixelMicrometres) µm) differs from the running "
                + "model's (\(inputSize)² of \(pixelMicrometres) µm); restart flowd to change the crop geometry"
        }
        return nil
    }

    /// Puts `classifier` in service and returns the previous one; frames already classifying
    /// keep that one.
    func swap(to classifier: Classifier) throws(ModelError) -> Classifier? {
        if let problem = incompatibility(of: classifier.model) { throw ModelError("model not swapped: \(problem)") }
        return slot.withLock { slot in
            defer { slot = classifier }
            return slot
        }
    }
}
