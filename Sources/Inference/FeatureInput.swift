/// The input stage of a features model (format version 2, docs/model-format.md): each crop's
/// ``CropFeatures``, standardised as z = (f − mean) / scale with the file's `mean` and `scale`
/// tensors (the statistics of the unlabelled cells the model was fitted with), in double
/// precision; the model's layers then read z as flat features.
struct FeatureInput: Sendable {
    let extractor: CropFeatures
    let mean: [Double]
    let scale: [Double]

    /// Features of `batch` crops into `x` ([batch, count] floats), with `image` (size² doubles)
    /// and `values` (count doubles) as scratch.
    func standardise(
        _ opd: UnsafePointer<Float>, batch: Int, image: UnsafeMutablePointer<Double>, values: UnsafeMutablePointer<Double>,
        into x: UnsafeMutablePointer<Float>
    ) {
        let perImage = extractor.size * extractor.size, count = CropFeatures.count
        for b in 0..<batch {
            extractor.compute(opd + b * perImage, image: image, into: values)
            for f in 0..<count {
                x[b * count + f] = Float((values[f] - mean[f]) / scale[f])
            }
        }
    }
}
