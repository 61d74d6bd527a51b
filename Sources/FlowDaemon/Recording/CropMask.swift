/// The `mask` of a recorded cell: the crop's pixels above the segmentation threshold that are
/// 8-connected to the cell's peak near the crop's centre (the crop is centred on the cell's
/// centroid, so neighbouring cells that reach into the crop stay outside the mask).
///
/// The pipeline segments on the hologram's field grid and keeps no mask per crop; this redraws
/// it on the crop's grid with the same threshold (`ReconstructionParameters.maskThresholdNm`),
/// so its area matches the cell's `area_um` to within the resampling of the edge pixels.
enum CropMask {
    /// `crop`: OPD, nm, `size × size` row-major; returns 1 inside the cell, 0 outside.
    static func mask(of crop: [Float], size: Int, thresholdNm: Float) -> [UInt8] {
        var mask = [UInt8](repeating: 0, count: size * size)
        guard crop.count == size * size, size > 0 else { return mask }
        // The seed: the highest pixel within a quarter of the crop around its centre.
        let centre = size / 2, reach = max(1, size / 4)
        var seed = centre * size + centre
        for y in max(0, centre - reach)..<min(size, centre + reach) {
            for x in max(0, centre - reach)..<min(size, centre + reach) where crop[y * size + x] > crop[seed] {
                seed = y * size + x
            }
        }
        guard crop[seed] > thresholdNm else { return mask }
        var stack = [seed]
        mask[seed] = 1
        while let pixel = stack.popLast() {
            let x = pixel % size, y = pixel / size
            for dy in -1...1 {
                for dx in -1...1 {
                    let nx = x + dx, ny = y + dy
                    guard nx >= 0, ny >= 0, nx < size, ny < size else { continue }
                    let next = ny * size + nx
                    if mask[next] == 0, crop[next] > thresholdNm {
                        mask[next] = 1
                        stack.append(next)
                    }
                }
            }
        }
        return mask
    }
}
