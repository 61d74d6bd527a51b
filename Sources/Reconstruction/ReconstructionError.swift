/// Why a hologram could not be reconstructed.
public struct ReconstructionError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
