import Foundation
import Protocol
import Reconstruction

/// Reading and writing the image files of `flowd simulate`, `reconstruct` and `extract`:
/// NumPy `.npy` (uint8, uint16, float32) and uncompressed TIFF (8/16-bit, float32).
public enum HologramFiles {
    /// Reads a 2-D image as Float values.
    public static func read(_ path: String) throws -> (rows: Int, cols: Int, values: [Float]) {
        let url = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: path) else { throw HologramFileError("\(path): no such file") }
        switch url.pathExtension.lowercased() {
        case "npy":
            let array: NumPyArray
            do { array = try NumPyArray.read(contentsOf: url) } catch { throw HologramFileError(error.description) }
            guard array.shape.count == 2 else {
                throw HologramFileError("\(path): expected a 2-D image [rows, cols], found shape \(array.shape)")
            }
            let values: [Float]
            do {
                switch array.dtype {
                case .uint8: values = try array.uint8Values().map(Float.init)
                case .uint16: values = try array.uint16Values().map(Float.init)
                case .float32: values = try array.float32Values()
                case .int64: throw HologramFileError("\(path): int64 is not an image type (uint8, uint16 or float32)")
                }
            } catch let error as NumPyFormatError { throw HologramFileError("\(path): \(error.description)") }
            return (array.shape[0], array.shape[1], values)
        case "tif", "tiff":
            let data: Data
            do { data = try Data(contentsOf: url) } catch { throw HologramFileError("\(path): \(error.localizedDescription)") }
            let image = try TIFFImage(bytes: [UInt8](data), name: path)
            return (image.height, image.width, image.values)
        default:
            throw HologramFileError("\(path): unknown image type; use .npy or .tif")
        }
    }

    /// Reads a hologram for the reconstruction.
    public static func hologram(_ path: String) throws -> HologramImage {
        let (rows, cols, values) = try read(path)
        do { return try HologramImage(rows: rows, cols: cols, values: values) } catch let error as ReconstructionError {
            throw HologramFileError("\(path): \(error.description)")
        }
    }

    /// Writes a camera frame as `.npy` (its own dtype) and/or 16-bit TIFF.
    public static func write(_ frame: Frame, npy: URL?, tiff: URL?) throws {
        let rows = frame.header.rows, cols = frame.header.cols
        let bytes = frame.pixels.withUnsafeBytes { Array($0) }
        if let npy {
            let dtype: NumPyArray.DType = frame.header.dtype == .uint8 ? .uint8 : frame.header.dtype == .uint16 ? .uint16 : .float32
            try NumPyArray(dtype: dtype, shape: [rows, cols], data: bytes).write(to: npy)
        }
        if let tiff {
            let values: [Float] = frame.pixels.withUnsafeBytes { raw in
                switch frame.header.dtype {
                case .uint8: return raw.bindMemory(to: UInt8.self).map(Float.init)
                case .uint16: return raw.bindMemory(to: UInt16.self).map { Float(UInt16(littleEndian: $0)) }
                case .float32: return raw.bindMemory(to: Float.self).map { $0 }
                }
            }
            try Data(TIFFImage.encode16(width: cols, height: rows, values: values)).write(to: tiff, options: .atomic)
        }
    }

    /// Writes a float32 map as `.npy`.
    public static func writeFloat(_ values: [Float], rows: Int, cols: Int, to url: URL) throws {
        try NumPyArray(float32: values, shape: [rows, cols]).write(to: url)
    }
}
