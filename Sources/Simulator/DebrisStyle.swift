/// How debris looks (``CellPhantom/debris(_:using:)``): `dense` is the twin's original debris
/// (kept for ideal conditions, bit for bit); `faint` is what a real sample carries (small,
/// irregular, a tenth of a cell's phase), the lab conditions' default.
public enum DebrisStyle: String, Sendable, CaseIterable, Codable {
    case dense
    case faint
}
