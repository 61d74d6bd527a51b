/// A hologram, reference or OPD file that cannot be used, with the reason.
struct HologramFileError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
