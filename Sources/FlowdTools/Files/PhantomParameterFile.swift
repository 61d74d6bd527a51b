import FlowDaemon
import Foundation
import Simulator

/// `flowd simulate --phantom-parameters N --out FILE.jsonl`: the generative parameters of N
/// phantoms of each labelled class (``PhantomParameters``), one JSON line each, for the Bayes
/// ceiling of scripts/bayes-ceiling. No images are formed: each line is one draw of
/// ``CellPhantom/random(_:parameters:debris:using:)`` with its own random stream.
public struct PhantomParameterFile: Sendable {
    public var perClass: Int
    public var parameters: ClassParameters
    public var seed: UInt64
    public var url: URL

    public init(perClass: Int, parameters: ClassParameters, seed: UInt64, url: URL) {
        (self.perClass, self.parameters, self.seed, self.url) = (perClass, parameters, seed, url)
    }

    /// One line: the class, its label, the set and its hash, and the parameters.
    struct Line: Encodable {
        var cellClass: CellClass
        var label: Int
        var classParameters: String
        var classParametersSHA256: String
        var parameters: PhantomParameters

        enum CodingKeys: String, CodingKey {
            case cellClass = "class", label, classParameters = "class_parameters"
            case classParametersSHA256 = "class_parameters_sha256", parameters
        }
    }

    public func write() throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw HologramFileError("\(url.path): cannot create the parameter file")
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for (classIndex, cellClass) in CellClass.labelled.enumerated() {
            var lines = Data()
            for i in 0..<perClass {
                var rng = SimulationRandom(seed: seed, stream: UInt64(classIndex) << 40 + UInt64(i))
                let hidden = CellPhantom.random(cellClass, parameters: parameters, using: &rng).hidden!
                lines += try encoder.encode(
                    Line(
                        cellClass: cellClass, label: cellClass.label, classParameters: parameters.name.rawValue,
                        classParametersSHA256: parameters.sha256, parameters: hidden)) + [0x0A]
            }
            try handle.write(contentsOf: lines)
        }
        print("flowd simulate: parameters of \(perClass) phantoms per class (\(parameters.name.rawValue), sha256 \(parameters.sha256)) → \(url.path)")
    }
}
