import Foundation

/// Writes safetensors files for tests: named tensors (F32 unless raw bytes are given), a
/// `__metadata__` object, and knobs to break the format on purpose.
public struct SafeTensorsBuilder {
    public struct Tensor {
        public var dtype: String
        public var shape: [Int]
        public var bytes: [UInt8]

        public init(dtype: String, shape: [Int], bytes: [UInt8]) {
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }
    }

    public var tensors: [(name: String, tensor: Tensor)] = []
    public var metadata: [String: String] = [:]

    public init() {}

    public mutating func add(_ name: String, shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count)
        let bytes = values.withUnsafeBytes { [UInt8]($0) }
        tensors.append((name, Tensor(dtype: "F32", shape: shape, bytes: bytes)))
    }

    public mutating func add(_ name: String, dtype: String, shape: [Int], bytes: [UInt8]) {
        tensors.append((name, Tensor(dtype: dtype, shape: shape, bytes: bytes)))
    }

    public mutating func remove(_ name: String) { tensors.removeAll { $0.name == name } }

    public mutating func replace(_ name: String, with tensor: Tensor) {
        guard let i = tensors.firstIndex(where: { $0.name == name }) else { fatalError("no tensor \(name)") }
        tensors[i].tensor = tensor
    }

    public func tensor(_ name: String) -> Tensor { tensors.first { $0.name == name }!.tensor }

    /// The file's bytes: u64 header length, JSON header, data.
    public func bytes() -> [UInt8] {
        var header: [String: Any] = [:]
        var data: [UInt8] = []
        for (name, t) in tensors {
            header[name] = ["dtype": t.dtype, "shape": t.shape, "data_offsets": [data.count, data.count + t.bytes.count]]
            data += t.bytes
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        let json = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        var out: [UInt8] = []
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * UInt64(i)))) }
        return out + [UInt8](json) + data
    }
}
