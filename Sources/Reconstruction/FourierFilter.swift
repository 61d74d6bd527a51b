import Foundation

/// The window that cuts the +1 order out of the hologram's spectrum (qpretrieve's names and
/// definitions, `qpretrieve.filter.get_filter_array`).
public enum FourierFilter: String, Sendable, CaseIterable, Equatable {
    /// Binary disk of radius r: sharpest band limit, slight ringing at steep edges
    /// (qpretrieve's default).
    case disk
    /// Disk of radius r convolved with a Gaussian of σ = r/5: less ringing, slightly less
    /// resolution.
    case smoothDisk = "smooth-disk"
    /// Gaussian of σ = 0.6·r: no ringing, lowest resolution.
    case gauss

    /// Weight at distance `d` (frequency bins) from the sideband centre for radius `r`.
    ///
    /// The smooth disk's convolution of a disk with a radial Gaussian is evaluated with the
    /// 1-D approximation ½·erfc((d − r)/(√2·σ)), which matches the 2-D convolution within 1 %
    /// for σ = r/5.
    public func weight(distance d: Double, radius r: Double) -> Float {
        switch self {
        case .disk: return d <= r ? 1 : 0
        case .smoothDisk:
            let sigma = r / 5
            return Float(0.5 * erfc((d - r) / (2.0.squareRoot() * sigma)))
        case .gauss:
            let sigma = 0.6 * r
            return Float(exp(-0.5 * d * d / (sigma * sigma)))
        }
    }

    /// Half-width of the window kept around the sideband, in units of r: where the weight has
    /// fallen below 1e-4 (disk, smooth disk) or 0.4 % (Gauss, truncated at 2r so that the window
    /// stays clear of the central band).
    var support: Double {
        switch self {
        case .disk: 1
        case .smoothDisk: 1 + 0.2 * 3.8
        case .gauss: 2
        }
    }
}
