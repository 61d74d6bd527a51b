/// One cell found in one frame (or, with ``rejection`` set, an object that is not a cell).
public struct DetectedCell: Sendable {
    /// Centroid of the cell's mask, hologram pixels (x = column, y = row).
    public var x: Double
    public var y: Double
    /// Bounding box of the mask, hologram pixels, [x0, x1) × [y0, y1).
    public var box: PixelBox
    /// True when the mask touches the frame's edge: the cell is cut off and its features are
    /// partial (the tracker prefers an appearance that does not touch the edge).
    public var touchesEdge: Bool
    public var features: CellFeatures
    /// OPD crop, nm, `cropSize × cropSize` row-major, centred on the centroid; empty when crops
    /// were not requested.
    public var crop: [Float]
    /// Residues found while unwrapping its region (0: the exact fast path was used).
    public var residues: Int
    /// The distance its recorded field was propagated to bring it into focus, µm (nrefocus's
    /// convention); `nil` when refocusing is off or found no focus (``refocusFailed``).
    public var focusUm: Double?
    /// Refocusing was on but found no focus within the range: the cell is measured on its
    /// recorded field (and still counted).
    public var refocusFailed: Bool
    /// Why the object is not a cell; `nil` for a cell. Only reported by
    /// ``OffAxisReconstructor/process(_:workspace:crops:phaseSign:rejects:)`` when asked for.
    public var rejection: ObjectRejection?
    /// The raw hologram around it, when the run records holograms (`record.hologram_every`);
    /// cut by the pipeline, not by the reconstructor.
    public var hologram: HologramTile? = nil

    public init(
        x: Double, y: Double, box: PixelBox, touchesEdge: Bool, features: CellFeatures, crop: [Float], residues: Int,
        focusUm: Double?, refocusFailed: Bool, rejection: ObjectRejection?, hologram: HologramTile? = nil
    ) {
        self.x = x
        self.y = y
        self.box = box
        self.touchesEdge = touchesEdge
        self.features = features
        self.crop = crop
        self.residues = residues
        self.focusUm = focusUm
        self.refocusFailed = refocusFailed
        self.rejection = rejection
        self.hologram = hologram
    }
}
