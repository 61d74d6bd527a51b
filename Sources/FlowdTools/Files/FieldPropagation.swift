import CFFTW
import FFTWSupport
import Foundation
import Protocol
import SystemSupport

/// `flowd propagate`: one complex field propagated by the daemon's angular-spectrum method
/// (``AngularSpectrum``, the propagation its refocusing uses), so that it can be checked against
/// other tools (nrefocus) on the same field. The field is a float32 `.npy` of shape (2, H, W):
/// real and imaginary parts; the output has the same layout.
public struct FieldPropagation {
    public var field: String
    public var distanceUm: Double
    public var pixelUm: Double
    public var wavelengthNm: Double
    public var mediumIndex: Double
    public var out: String

    public init(field: String, distanceUm: Double, pixelUm: Double, wavelengthNm: Double, mediumIndex: Double, out: String) {
        (self.field, self.distanceUm, self.pixelUm, self.wavelengthNm, self.mediumIndex, self.out) =
            (field, distanceUm, pixelUm, wavelengthNm, mediumIndex, out)
    }

    public func run() throws {
        let array: NumPyArray
        let values: [Float]
        do {
            array = try NumPyArray.read(contentsOf: URL(fileURLWithPath: field))
            values = try array.float32Values()
        } catch { throw ToolError("\(field): \(error)") }
        guard array.shape.count == 3, array.shape[0] == 2, array.shape[1] >= 2, array.shape[2] >= 2 else {
            throw ToolError("\(field): expected a float32 array of shape (2, H, W) (real, imaginary), not \(array.shape)")
        }
        let rows = array.shape[1], cols = array.shape[2], n = rows * cols
        let buffer = AlignedBuffer<fftwf_complex>(count: n, initial: (0, 0))
        for i in 0..<n { buffer[i] = (values[i], values[n + i]) }
        AngularSpectrum(
            rows: rows, cols: cols, pixelUm: (pixelUm, pixelUm), mediumIndex: mediumIndex, wavelengthNm: wavelengthNm
        ).propagate(buffer.pointer, distanceUm: distanceUm)
        let output = (0..<n).map { buffer[$0].0 } + (0..<n).map { buffer[$0].1 }
        do { try NumPyArray(float32: output, shape: [2, rows, cols]).write(to: URL(fileURLWithPath: out)) } catch {
            throw ToolError("\(out): \(error)")
        }
    }
}
