import Foundation
import ContentHash
import Testing

@testable import Simulator

@Suite("Class parameters live in hashed files")
struct ClassParametersTests {
    static func file(_ name: ClassParameters.Name) throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/Simulator/Resources/class-parameters-\(name.rawValue).json")
        return Array(try Data(contentsOf: url))
    }

    @Test("each set's hash is the SHA-256 of its file, and differs between the sets")
    func hashes() throws {
        for name in ClassParameters.Name.allCases {
            #expect(ClassParameters.named(name).sha256 == sha256Hex(try Self.file(name)))
        }
        #expect(ClassParameters.standard.sha256 != ClassParameters.nucleusLessDense.sha256)
    }

    @Test("the standard set is the frozen one; in the other, every class's nucleus is less dense than its cytoplasm")
    func values() {
        let healthy = ClassParameters.standard.population(.healthy)!
        #expect(healthy.diameterUm == .init(mean: 12.0, sd: 1.4, min: 7, max: 24))
        #expect(healthy.nucleusDeltaN == .init(mean: 0.006, sd: 0.002, min: 0, max: 0.03))
        #expect(ClassParameters.standard.population(.metastaticCancer)!.nucleoliMean == 4.0)
        for cellClass in CellClass.labelled {
            let p = ClassParameters.nucleusLessDense.population(cellClass)!
            #expect(p.nucleusDeltaN.mean < 0 && p.nucleusDeltaN.max <= 0)
            // Nucleoli stay denser than the cytoplasm.
            #expect(p.nucleusDeltaN.mean + p.nucleolusDeltaN.mean > 0)
            #expect(p.diameterUm == ClassParameters.standard.population(cellClass)!.diameterUm)
        }
    }

    @Test("the broad set is class-agnostic: one distribution for all three populations, wider than every standard class's")
    func broadSet() {
        let broad = ClassParameters.broad
        let healthy = broad.population(.healthy)!
        var lengths: Set<Double> = []
        for cellClass in CellClass.labelled {
            var p = broad.population(cellClass)!
            lengths.insert(p.textureLengthUm)
            p.textureLengthUm = healthy.textureLengthUm
            #expect(p == healthy)
            // Each standard class's mean lies within one standard deviation of the broad mean.
            let standard = ClassParameters.standard.population(cellClass)!
            let pairs: [(CellPopulation.Distribution, CellPopulation.Distribution)] = [
                (healthy.diameterUm, standard.diameterUm), (healthy.aspect, standard.aspect),
                (healthy.heightRatio, standard.heightRatio), (healthy.nucleusRatio, standard.nucleusRatio),
                (healthy.nucleolusDiameterUm, standard.nucleolusDiameterUm), (healthy.cytoplasmDeltaN, standard.cytoplasmDeltaN),
                (healthy.nucleusDeltaN, standard.nucleusDeltaN), (healthy.nucleolusDeltaN, standard.nucleolusDeltaN),
                (healthy.textureDeltaN, standard.textureDeltaN),
            ]
            for (wide, narrow) in pairs {
                #expect(abs(narrow.mean - wide.mean) <= wide.sd + 1e-12 && wide.sd >= narrow.sd)
            }
        }
        // The texture length, a per-population constant, sits off the standard classes' grid.
        let standardLengths = Set(CellClass.labelled.map { ClassParameters.standard.population($0)!.textureLengthUm })
        #expect(lengths.count == 3 && lengths.isDisjoint(with: standardLengths))
    }

    @Test("a file that is not a class-parameter set, or lacks a class, is refused with a reason")
    func badFiles() throws {
        #expect(throws: SimulationError.self) { _ = try ClassParameters(name: .standard, bytes: Array("{}".utf8)) }
        var text = String(decoding: try Self.file(.standard), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"healthy\"", with: "\"other\"")
        #expect(throws: SimulationError.self) { _ = try ClassParameters(name: .standard, bytes: Array(text.utf8)) }
        #expect(throws: SimulationError.self) { _ = try ClassParameters(name: .nucleusLessDense, bytes: try Self.file(.standard)) }
    }

    @Test("a labelled cell carries the parameters it was drawn with")
    func hiddenParameters() {
        var rng = SimulationRandom(seed: 3)
        let cell = CellPhantom.random(.primaryCancer, parameters: .nucleusLessDense, using: &rng)
        let hidden = cell.hidden!
        #expect(hidden.nucleusDeltaN <= 0)
        #expect(abs(cell.halfHeightUm - hidden.diameterUm / 2 * hidden.heightRatio) < 1e-9)
        #expect(CellPhantom.random(.debris, using: &rng).hidden == nil)
        #expect(hidden.textureLengthUm == ClassParameters.nucleusLessDense.population(.primaryCancer)!.textureLengthUm)
        #expect(PhantomParameters.names.count == hidden.values.count)
        #expect(hidden.values[PhantomParameters.names.firstIndex(of: "nucleus_delta_n")!] == hidden.nucleusDeltaN)
    }
}
