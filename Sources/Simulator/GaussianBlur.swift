import Foundation

/// Separable Gaussian convolution with zero boundary, for smoothing rendered phantoms and
/// random aberration fields.
struct GaussianBlur {
    let kernel: [Double]
    let radius: Int

    init(sigmaPixels: Double) {
        radius = max(0, Int((3 * sigmaPixels).rounded(.up)))
        guard sigmaPixels > 0 else { kernel = [1]; return }
        let raw = (-radius...radius).map { exp(-0.5 * Double($0 * $0) / (sigmaPixels * sigmaPixels)) }
        let sum = raw.reduce(0, +)
        kernel = raw.map { $0 / sum }
    }

    func apply(_ image: [Double], width: Int, height: Int) -> [Double] {
        guard radius > 0 else { return image }
        var rows = [Double](repeating: 0, count: image.count)
        for y in 0..<height {
            for x in 0..<width {
                var s = 0.0
                for k in max(-radius, -x)...min(radius, width - 1 - x) {
                    s += kernel[k + radius] * image[y * width + x + k]
                }
                rows[y * width + x] = s
            }
        }
        var out = [Double](repeating: 0, count: image.count)
        for y in 0..<height {
            for k in max(-radius, -y)...min(radius, height - 1 - y) {
                let w = kernel[k + radius]
                let src = (y + k) * width
                for x in 0..<width { out[y * width + x] += w * rows[src + x] }
            }
        }
        return out
    }
}
