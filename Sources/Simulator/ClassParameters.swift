import Foundation
import ContentHash

/// A set of class parameters: the distributions of the three labelled populations, read from a
/// JSON file compiled into the binary (Sources/Simulator/Resources/class-parameters-NAME.json),
/// with the SHA-256 of that file's bytes so that every dataset names the exact distributions
/// that drew its cells (docs/simulator.md).
///
/// Why two sets: whether nuclei are denser than the cytoplasm is not settled. The standard set
/// (frozen 2026-11-27) assumes they are; Schürmann et al. 2016 ("Cell nuclei have lower
/// refractive index and mass density than cytoplasm", J. Biophotonics 9:1068) measured the
/// opposite in live cells. Results that hold for both sets are not tied to one assumption.
/// The third, `broad`, is no model of the classes: one wide distribution shared by all three
/// populations, so that cells drawn from it teach a network to measure the hidden parameters
/// (``PhantomParameters``) without learning the classes (training/topgan/twinsupervised.py).
public struct ClassParameters: Sendable, Equatable {
    /// The sets shipped with the twin.
    public enum Name: String, Sendable, CaseIterable, Codable {
        /// The frozen set: nuclei denser than the cytoplasm.
        case standard
        /// Nuclei less dense than the cytoplasm (Schürmann et al. 2016).
        case nucleusLessDense = "nucleus-less-dense"
        /// Class-agnostic: the three populations share one distribution that covers the
        /// standard classes' ranges; only the texture length (a per-population constant)
        /// differs, on another grid (docs/simulator.md, "The broad set").
        case broad
    }

    public let name: Name
    /// SHA-256 of the file, 64 lower-case hex digits (as `sha256sum` prints it).
    public let sha256: String
    /// The populations of the labelled classes.
    public let populations: [CellClass: CellPopulation]

    /// The file's layout.
    private struct File: Decodable {
        var name: String
        var classes: [String: CellPopulation]
    }

    /// Parses a class-parameter file; it must name `name` and give all three labelled classes.
    public init(name: Name, bytes: [UInt8]) throws {
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: Data(bytes)) } catch {
            throw SimulationError("class parameters '\(name.rawValue)': not a class-parameter file (\(error))")
        }
        guard file.name == name.rawValue else {
            throw SimulationError("class parameters '\(name.rawValue)': the file names itself '\(file.name)'")
        }
        var populations: [CellClass: CellPopulation] = [:]
        for cellClass in CellClass.labelled {
            guard let population = file.classes[cellClass.rawValue] else {
                throw SimulationError("class parameters '\(name.rawValue)': no entry for \(cellClass.rawValue)")
            }
            populations[cellClass] = population
        }
        self.name = name
        self.sha256 = sha256Hex(bytes)
        self.populations = populations
    }

    /// The population of a labelled class; `nil` for sperm, debris and doublets.
    public func population(_ cellClass: CellClass) -> CellPopulation? { populations[cellClass] }

    /// The shipped set `name` (parsed once).
    public static func named(_ name: Name) -> ClassParameters {
        switch name {
        case .standard: standard
        case .nucleusLessDense: nucleusLessDense
        case .broad: broad
        }
    }

    // The files are part of the binary and parsed by the tests, so a failure here is a build
    // defect, not bad input.
    public static let standard = try! ClassParameters(name: .standard, bytes: PackageResources.class_parameters_standard_json)
    public static let nucleusLessDense = try! ClassParameters(
        name: .nucleusLessDense, bytes: PackageResources.class_parameters_nucleus_less_dense_json)
    public static let broad = try! ClassParameters(name: .broad, bytes: PackageResources.class_parameters_broad_json)
}
