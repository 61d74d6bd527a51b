import Foundation
import Protocol
import Reconstruction

/// The features of a run's cells.rtdc (dclab's names and units; docs/operations.md lists them)
/// and one batch of recorded cells as their columns; also of its rejects.rtdc (the objects that
/// were not cells: no scores, `reason` in place of `class`; ``rejects(optics:)``).
///
/// - images: `qpi_pha` (the crop the classifier saw, as phase: φ = OPD·2π/λ, rad, float32,
///   `cropSize²` pixels of `cropPixelUm`), `mask` (``CropMask``); with ``holograms``, also
///   `qpi_oah` and `qpi_oah_bg` (the raw hologram around the cell and the reference there,
///   ``HologramTile``, uint8, `side²` camera pixels) in every ``HologramSample/every``-th event
///   (events 1, 1 + every, …) and all zeros in the others (a hologram is never all zeros);
/// - dclab's scalar features: `index` (1, 2, …), `time` (s from the run's start to the cell's
///   publishing, as the FCS `Time`), `frame` (the best appearance's frame `seq`; 0 when the
///   camera sends none), `pos_x`, `pos_y` (its centroid, µm on the hologram), and each feature
///   of the cell message dclab has a name for (``dclabFeatures``: `area_um`, `qpi_dm`,
///   `qpi_focus`);
/// - `ml_score_<id>` per model class: its fused probability (they sum to 1 per cell), with a
///   three-letter id (``classIDs``); dclab derives `ml_class` from them (the index of the
///   largest score, classes in the order of their ids sorted; -1 when a cell has no scores);
/// - `userdef0`…: every other value of the cell message, in the order of ``userdefFeatures``,
///   the last of which is the ``category``.
struct RtdcEventLayout: Sendable {
    /// A recorded cell or object as queued for the file: the message, its crop (OPD, nm) and
    /// hologram tile (if cut), when it was recorded (s from the run's start), its ``category``
    /// value and its camera's index.
    struct Cell: Sendable {
        var message: CellMessage
        var crop: [Float]
        var hologram: HologramTile? = nil
        var seconds: Double
        var category: Float
        var camera: Int
    }

    /// The geometry and optics of the recorded images.
    struct Optics: Sendable, Equatable {
        /// Side of the square crop, pixels, and its pixel size, µm.
        var cropSize: Int
        var cropPixelUm: Double
        /// Hologram pixel in the sample plane, µm, and the wavelength, nm.
        var hologramPixelUm: Double
        var wavelengthNm: Double
        /// The segmentation threshold the mask is redrawn with, nm.
        var maskThresholdNm: Double
        /// Refractive index of the medium (dclab's `qpi:medium index`).
        var mediumIndex: Double
    }

    /// Which events carry their raw hologram (`record.hologram_every`), and its tiles' side.
    struct HologramSample: Sendable, Equatable {
        /// Every how many events, ≥ 1.
        var every: Int
        /// Side of the tiles, camera pixels (``HologramTile/side(cropSize:cropPixelUm:hologramPixelUm:)``).
        var side: Int
    }

    /// dclab feature ← the cell message's feature (``CellEventLayout/featureNames``), for the
    /// values dclab has a name for (NaN where a cell lacks it, e.g. `focus_um` when refocusing
    /// is off or failed).
    static let dclabFeatures: [(dclab: String, flowd: String)] = [
        ("area_um", "area_um2"), ("qpi_dm", "dry_mass_pg"), ("qpi_focus", "focus_um"),
    ]

    /// Three-letter ids of the classes flowd's models know (dclab's `ml_score_???`); another
    /// class name gets the first three of its letters and digits, or `c` and its index.
    static let knownClassIDs = ["healthy": "hea", "primary_cancer": "pri", "metastatic_cancer": "met"]

    let modelClasses: [String]
    /// `ml_score_<id>` of each of ``modelClasses``, in their order.
    let classIDs: [String]
    let optics: Optics
    /// Raw holograms in the file; `nil`: none.
    let holograms: HologramSample?
    /// The last userdef feature: `class` (cells.rtdc; index into run.json's `classes`: the
    /// label, also `unknown` and `unclassified`) or `reason` (rejects.rtdc; index into its
    /// `reject_reasons`).
    let category: String
    /// What each `userdefN` holds, N = 0, 1, …: a cell message feature without a dclab name, or
    /// `frames_seen`, `latency_ms`, `camera` (index into run.json's `cameras`), the ``category``.
    let userdefFeatures: [String]

    private let dclabColumns: [(dclab: String, flowd: String)]

    /// The layout of cells.rtdc for a model with `modelClasses` (none without a model).
    init(modelClasses: [String], optics: Optics, holograms: HologramSample? = nil) {
        self.init(modelClasses: modelClasses, optics: optics, holograms: holograms, category: "class")
    }

    /// The layout of rejects.rtdc (the objects that were not cells, with no scores) beside
    /// this one's cells.rtdc.
    var rejects: RtdcEventLayout {
        RtdcEventLayout(modelClasses: [], optics: optics, holograms: holograms, category: "reason")
    }

    private init(modelClasses: [String], optics: Optics, holograms: HologramSample?, category: String) {
        self.modelClasses = modelClasses
        self.optics = optics
        self.holograms = holograms
        self.category = category
        classIDs = Self.ids(for: modelClasses)
        dclabColumns = Self.dclabFeatures.filter { CellEventLayout.featureNames.contains($0.flowd) }
        let named = Set(dclabColumns.map(\.flowd))
        userdefFeatures =
            CellEventLayout.featureNames.filter { !named.contains($0) } + ["frames_seen", "latency_ms", "camera", category]
        // dclab defines userdef0 … userdef9.
        precondition(userdefFeatures.count <= 10, "more userdef features than dclab defines")
    }

    /// Name, element type and side of each image feature.
    var imageFeatures: [(String, RtdcWriter.Element, side: Int)] {
        [("qpi_pha", .float32, optics.cropSize), ("mask", .uint8, optics.cropSize)]
            + (holograms.map { [("qpi_oah", .uint8, $0.side), ("qpi_oah_bg", .uint8, $0.side)] } ?? [])
    }

    var scalarFeatures: [(String, RtdcWriter.Element)] {
        [("index", .uint32), ("time", .float64), ("frame", .uint64), ("pos_x", .float64), ("pos_y", .float64)]
            + dclabColumns.map { ($0.dclab, .float64) } + classIDs.map { ("ml_score_" + $0, .float64) }
            + userdefFeatures.indices.map { ("userdef\($0)", .float64) }
    }

    /// The columns of `cells`, the first of which is event number `firstIndex` (0-based) of the
    /// file. A crop of another size than ``optics`` (none is: the pipeline's crop size is fixed)
    /// is recorded as zeros with an empty mask rather than shifting the images of later cells.
    func columns(of cells: [Cell], firstIndex: Int) -> [String: RtdcWriter.Column] {
        let pixels = optics.cropSize * optics.cropSize
        let radiansPerNm = Float(2 * Double.pi / optics.wavelengthNm)
        var phase = [Float](), mask = [UInt8]()
        phase.reserveCapacity(cells.count * pixels)
        mask.reserveCapacity(cells.count * pixels)
        for cell in cells {
            guard cell.crop.count == pixels else {
                phase += [Float](repeating: 0, count: pixels)
                mask += [UInt8](repeating: 0, count: pixels)
                continue
            }
            phase += cell.crop.map { $0 * radiansPerNm }
            mask += CropMask.mask(of: cell.crop, size: optics.cropSize, thresholdNm: Float(optics.maskThresholdNm))
        }
        var columns: [String: RtdcWriter.Column] = [
            "qpi_pha": .float32(phase), "mask": .uint8(mask),
            "index": .uint32(cells.indices.map { UInt32(firstIndex + $0 + 1) }),
            "time": .float64(cells.map(\.seconds)),
            "frame": .uint64(cells.map { $0.message.seq ?? 0 }),
            "pos_x": .float64(cells.map { $0.message.xPixels * optics.hologramPixelUm }),
            "pos_y": .float64(cells.map { $0.message.yPixels * optics.hologramPixelUm }),
        ]
        if let holograms {
            let (tiles, references) = hologramColumns(of: cells, firstIndex: firstIndex, sample: holograms)
            columns["qpi_oah"] = .uint8(tiles)
            columns["qpi_oah_bg"] = .uint8(references)
        }
        for (dclab, flowd) in dclabColumns {
            columns[dclab] = .float64(cells.map { $0.message.features[flowd] ?? .nan })
        }
        for (name, id) in zip(modelClasses, classIDs) {
            columns["ml_score_" + id] = .float64(cells.map { $0.message.probabilities[name] ?? .nan })
        }
        for (number, name) in userdefFeatures.enumerated() {
            columns["userdef\(number)"] = .float64(cells.map { value(name, of: $0) })
        }
        return columns
    }

    /// The `qpi_oah` and `qpi_oah_bg` columns: the tiles of the sampled events, zeros elsewhere
    /// (also where a tile is missing or of another side, or there was no reference).
    private func hologramColumns(of cells: [Cell], firstIndex: Int, sample: HologramSample) -> ([UInt8], [UInt8]) {
        let pixels = sample.side * sample.side
        var tiles = [UInt8](repeating: 0, count: cells.count * pixels), references = tiles
        for (offset, cell) in cells.enumerated() where (firstIndex + offset) % sample.every == 0 {
            guard let tile = cell.hologram, tile.side == sample.side else { continue }
            let at = offset * pixels
            tiles.replaceSubrange(at..<(at + pixels), with: tile.hologram)
            if tile.reference.count == pixels { references.replaceSubrange(at..<(at + pixels), with: tile.reference) }
        }
        return (tiles, references)
    }

    private func value(_ name: String, of cell: Cell) -> Double {
        switch name {
        case "frames_seen": Double(cell.message.framesSeen)
        case "latency_ms": cell.message.latencyMilliseconds
        case "camera": Double(cell.camera)
        case category: Double(cell.category)
        default: cell.message.features[name] ?? .nan
        }
    }

    /// Distinct three-letter ids (lower-case letters and digits, as dclab's `ml_score_???`).
    static func ids(for classes: [String]) -> [String] {
        var used = Set<String>()
        return classes.enumerated().map { index, name in
            let letters = name.lowercased().filter { ("a"..."z").contains($0) || ("0"..."9").contains($0) }
            var id = knownClassIDs[name] ?? String(letters.prefix(3))
            if id.count < 3 || used.contains(id) { id = String(format: "c%02d", index % 100) }
            used.insert(id)
            return id
        }
    }
}
