/// A hologram, reference or OPD file that cannot be used, with the reason.
public struct HologramFileError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
