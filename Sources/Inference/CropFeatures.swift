import Foundation

/// The `qpi-crop` feature extractor, version 1: 13 quantitative-phase features of one OPD crop,
/// the input of a features model (model format version 2, docs/model-format.md). It is the
/// engine's copy of `crop_features` in training/topgan/features.py, which trains the models;
/// both compute in double precision, so they agree to rounding (parity ≤ 1e-4 in probability,
/// training/tests/test_feature_model.py).
///
/// Definitions, for a crop of S × S OPD values in nm (NaN and ±∞ count as background, 0):
/// - **cell mask**: the pixels whose OPD is above 10 % of the crop's maximum. A crop whose maximum
///   is not positive or whose mask has fewer than 3 pixels gets all features 0.
/// - `area_um2`: mask pixels × pixel_um²; `mean_opd_nm`, `max_opd_nm`: OPD inside the mask;
///   `opd_integral_nm_um2`: Σ OPD over the mask × pixel_um² (∝ dry mass and phase volume).
/// - `aspect_ratio`, `ellipse_fill`: from the covariance of the mask's pixel coordinates (each
///   pixel a unit square, its variance 1/12 added to both diagonal terms), eigenvalues l1 ≥ l2:
///   √(l1 / l2), and mask pixels / (4π √(l1 l2)), the area of the ellipse of equal moments.
/// - `opd_sd_nm`: population standard deviation inside the mask + 1e-9; `opd_skew`,
///   `opd_kurtosis`: the third and fourth central moments over sd³ and sd⁴ (that sd).
/// - `grad_mean`: mean over the mask of |∇OPD| (nm/px), with NumPy's `np.gradient`: central
///   differences inside, one-sided first differences on the crop's border rows and columns.
/// - `laplacian_mean`: mean over the mask of |4·OPD − its four neighbours| (nm), neighbours
///   wrapping around the crop's edges (`np.roll`).
/// - `dense_fraction`: the share of mask pixels above half the maximum inside the mask.
/// - `gyration_radius_px`: √(Σ w r² / Σ w) with weights w = max(OPD, 0) on the mask and r the
///   distance to the w-weighted centroid, px.
public struct CropFeatures: Sendable {
    public static let extractor = "qpi-crop"
    public static let version: Int64 = 1
    /// The features in output order, as a model file lists them.
    public static let names = [
        "area_um2", "mean_opd_nm", "max_opd_nm", "opd_integral_nm_um2", "aspect_ratio", "ellipse_fill",
        "opd_sd_nm", "opd_skew", "opd_kurtosis", "grad_mean", "laplacian_mean", "dense_fraction", "gyration_radius_px",
    ]
    public static var count: Int { names.count }

    /// Pixels per side of the crop (≥ 2: the gradient needs two pixels).
    public let size: Int
    /// Pixel pitch of the crop, µm (areas are in µm²).
    public let pixelMicrometres: Double

    public init(size: Int, pixelMicrometres: Double) {
        self.size = size
        self.pixelMicrometres = pixelMicrometres
    }

    /// Computes the features of one crop (`size`² floats, row-major) into `out` (``count``
    /// doubles), using `image` (`size`² doubles) as scratch; allocates nothing.
    public func compute(_ opd: UnsafePointer<Float>, image: UnsafeMutablePointer<Double>, into out: UnsafeMutablePointer<Double>) {
        let s = size, n = s * s
        out.initialize(repeating: 0, count: Self.count)
        var peak = -Double.infinity
        for i in 0..<n {
            let v = Double(opd[i])
            image[i] = v.isFinite ? v : 0
            peak = max(peak, image[i])
        }
        let threshold = 0.1 * peak
        var pixels = 0
        for i in 0..<n where image[i] > threshold { pixels += 1 }
        guard peak > 0, pixels >= 3 else { return }
        let m = Double(pixels)

        // First pass: sums over the mask.
        var sum = 0.0, inside = -Double.infinity, sy = 0.0, sx = 0.0
        var sw = 0.0, swy = 0.0, swx = 0.0
        for y in 0..<s {
            for x in 0..<s where image[y * s + x] > threshold {
                let v = image[y * s + x]
                sum += v
                inside = max(inside, v)
                sy += Double(y)
                sx += Double(x)
                let w = max(v, 0)
                sw += w
                swy += w * Double(y)
                swx += w * Double(x)
            }
        }
        let mean = sum / m, cy = sy / m, cx = sx / m, wy = swy / sw, wx = swx / sw
        // Second pass: central moments, shape moments, texture.
        var m2 = 0.0, m3 = 0.0, m4 = 0.0, cyy = 0.0, cxx = 0.0, cxy = 0.0
        var gradient = 0.0, laplacian = 0.0, dense = 0.0, swr = 0.0
        for y in 0..<s {
            for x in 0..<s where image[y * s + x] > threshold {
                let v = image[y * s + x]
                let d = v - mean
                m2 += d * d
                m3 += d * d * d
                m4 += d * d * d * d
                let dy = Double(y) - cy, dx = Double(x) - cx
                cyy += dy * dy
                cxx += dx * dx
                cxy += dx * dy
                let gy = derivative(image, y, x, alongRows: true)
                let gx = derivative(image, y, x, alongRows: false)
                gradient += (gx * gx + gy * gy).squareRoot()
                let up = image[((y + s - 1) % s) * s + x], down = image[((y + 1) % s) * s + x]
                let left = image[y * s + (x + s - 1) % s], right = image[y * s + (x + 1) % s]
                laplacian += abs(4 * v - up - down - left - right)
                if v > 0.5 * inside { dense += 1 }
                let ry = Double(y) - wy, rx = Double(x) - wx
                swr += max(v, 0) * (ry * ry + rx * rx)
            }
        }
        let sd = (m2 / m).squareRoot() + 1e-9
        let vyy = cyy / m + 1.0 / 12, vxx = cxx / m + 1.0 / 12, vxy = cxy / m
        let halfTrace = (vyy + vxx) / 2, det = vyy * vxx - vxy * vxy
        let root = max(halfTrace * halfTrace - det, 0).squareRoot()
        let l1 = halfTrace + root, l2 = halfTrace - root
        let pixelArea = pixelMicrometres * pixelMicrometres
        out[0] = m * pixelArea
        out[1] = mean
        out[2] = inside
        out[3] = sum * pixelArea
        out[4] = (l1 / l2).squareRoot()
        out[5] = m / (4 * Double.pi * (l1 * l2).squareRoot())
        out[6] = sd
        out[7] = (m3 / m) / (sd * sd * sd)
        out[8] = (m4 / m) / (sd * sd * sd * sd)
        out[9] = gradient / m
        out[10] = laplacian / m
        out[11] = dense / m
        out[12] = (swr / sw).squareRoot()
    }

    /// ∂OPD/∂y (`alongRows`) or ∂OPD/∂x at a pixel, in nm/px, as `np.gradient`: (f[i+1] − f[i−1]) / 2
    /// inside, f[1] − f[0] and f[S−1] − f[S−2] on the border.
    private func derivative(_ image: UnsafeMutablePointer<Double>, _ y: Int, _ x: Int, alongRows: Bool) -> Double {
        let s = size
        let i = alongRows ? y : x
        func at(_ j: Int) -> Double { alongRows ? image[j * s + x] : image[y * s + j] }
        if i == 0 { return at(1) - at(0) }
        if i == s - 1 { return at(s - 1) - at(s - 2) }
        return (at(i + 1) - at(i - 1)) / 2
    }
}
