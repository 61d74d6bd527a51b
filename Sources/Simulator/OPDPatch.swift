/// An OPD map of one phantom on a square pixel grid; the cell's centre is at pixel
/// (`center`, `center`).
public struct OPDPatch: Sendable {
    public let size: Int
    public let center: Int
    /// OPD, nm, row-major size × size.
    public let opdNm: [Float]
}
