import CHDF5
import Foundation

/// A dclab `.rtdc` file (HDF5) written event by event while a run records, readable at any time.
///
/// The layout is dclab's (dclab 0.73, `dclab/rtdc_dataset/writer.py`): one dataset per feature
/// under `/events`, N events long: image features (N, H, W) and scalar features (N,); the
/// metadata as attributes of the root, named `section:key` (`imaging:pixel size`). Every dataset
/// is created up front, empty, extendable and chunked (image chunks of ``imageChunkEvents`` events,
/// scalar chunks of ``scalarChunkEvents``; byte shuffle, then deflate, except the float32 images:
/// see ``compresses(_:image:)``), and the file then
/// switches to HDF5's single-writer/multiple-reader mode (SWMR, HDF5 ≥ 1.10): from there on
/// the file on disk is consistent after every ``flush()``, so that a reader (dclab, which
/// reopens such a file in SWMR mode) sees every event up to the last flush, also after the
/// writer was killed. SWMR forbids creating objects afterwards, which is why the columns are
/// fixed at creation; `experiment:event count` is an attribute created up front and rewritten
/// at each flush (same type, same size).
///
/// One thread (the recorder's) appends to and flushes a file. Debian's libhdf5 is built without
/// its thread-safety option, and a new run's file is created (control thread) while the previous
/// one is still flushed (recorder thread): every call into the library holds ``library``.
final class RtdcWriter {
    /// Held around every use of libhdf5 in the process.
    private static let library = NSRecursiveLock()  // recursive: a failed init closes from deinit

    struct Failure: Error, CustomStringConvertible {
        let description: String

        /// `what` failed in libhdf5; with the system's reason when the last system call set
        /// one (a full disk: "No space left on device").
        static func library(_ what: String) -> Failure {
            let reason = errno != 0 ? ": " + String(cString: strerror(errno)) : ""
            return Failure(description: what + reason)
        }
    }

    /// The element type of a feature's dataset (dclab's: `index`, `ml_class` uint32, `frame`
    /// uint64, other scalars float64, `qpi_pha` float32, `mask` uint8).
    enum Element {
        case float32, float64, uint8, uint32, uint64

        var type: hid_t {
            switch self {
            case .float32: flowd_h5t_native_float()
            case .float64: flowd_h5t_native_double()
            case .uint8: flowd_h5t_native_uint8()
            case .uint32: flowd_h5t_native_uint32()
            case .uint64: flowd_h5t_native_uint64()
            }
        }
    }

    /// A metadata value: dclab reads strings, integers and floats.
    enum Attribute {
        case text(String)
        case integer(Int64)
        case number(Double)
    }

    /// One feature's values for a batch of events, in event order (images row-major, event
    /// after event).
    enum Column {
        case float32([Float])
        case float64([Double])
        case uint8([UInt8])
        case uint32([UInt32])
        case uint64([UInt64])
    }

    /// Events per chunk of an image feature (64 × 64 float32: 128 KiB; dclab's writer stays
    /// under 1 MiB). A flush rewrites the last, partly filled chunk of every dataset, so small
    /// chunks keep the recompression (CPU) and the space of replaced chunks (file size) small at
    /// a flush every 0.5 s (docs/benchmarks.md, "Recording").
    static let imageChunkEvents = 8
    /// Events per chunk of a scalar feature (2 KiB of float64).
    static let scalarChunkEvents = 256
    /// Deflate level (deflate is what libhdf5 always has; dclab's own writer uses Zstandard 5).
    /// Level 1: the recorder shares the cores with the frame workers (docs/benchmarks.md).
    static let deflateLevel: UInt32 = 1

    let path: String
    /// Events on disk as of the last successful ``append(_:)``.
    private(set) var events = 0

    private let file: hid_t
    private var datasets: [String: (id: hid_t, element: Element, itemShape: [hsize_t])] = [:]
    private var eventCount: hid_t = -1
    private var closed = false

    /// Creates `path` (which must not exist: a run's file is never overwritten) with an empty
    /// dataset per feature and the metadata, then starts SWMR writing. On failure, what was
    /// made is closed again (``close()``, from `deinit`).
    /// - Parameters:
    ///   - imageFeatures: name, element type and side of (N, side, side) features.
    ///   - scalarFeatures: name → element type of (N,) features.
    ///   - metadata: `section:key` → value; `experiment:event count` is added and kept current.
    init(
        path: String, imageFeatures: [(String, Element, side: Int)], scalarFeatures: [(String, Element)],
        metadata: [(String, Attribute)]
    ) throws(Failure) {
        self.path = path
        RtdcWriter.library.lock()
        defer { RtdcWriter.library.unlock() }
        flowd_h5_silence_errors()
        let access = H5Pcreate(flowd_h5p_file_access())
        defer { H5Pclose(access) }
        // SWMR needs the 1.10 file format.
        H5Pset_libver_bounds(access, H5F_LIBVER_V110, H5F_LIBVER_V110)
        file = H5Fcreate(path, flowd_h5f_acc_excl(), flowd_h5p_default(), access)
        guard file >= 0 else {
            closed = true
            throw Failure(description: "cannot create \(path) (HDF5; does it exist already?)")
        }
        try createFeatures(imageFeatures: imageFeatures, scalarFeatures: scalarFeatures)
        for (key, value) in metadata { try Self.write(value, named: key, on: file, path: path) }
        try Self.write(.integer(0), named: "experiment:event count", on: file, path: path)
        // Only datasets may be open when SWMR writing starts.
        guard H5Fstart_swmr_write(file) >= 0 else { throw Failure(description: "cannot start SWMR writing of \(path)") }
        eventCount = H5Aopen(file, "experiment:event count", flowd_h5p_default())
        guard eventCount >= 0 else { throw Failure(description: "cannot open the event count of \(path)") }
    }

    /// The group /events and an empty dataset per feature in it.
    private func createFeatures(
        imageFeatures: [(String, Element, side: Int)], scalarFeatures: [(String, Element)]
    ) throws(Failure) {
        let events = H5Gcreate2(file, "events", flowd_h5p_default(), flowd_h5p_default(), flowd_h5p_default())
        guard events >= 0 else { throw Failure(description: "cannot create /events in \(path)") }
        defer { H5Gclose(events) }
        for (name, element, side) in imageFeatures {
            let dataset = try create(
                name, in: events, element: element, itemShape: [hsize_t(side), hsize_t(side)], chunkEvents: Self.imageChunkEvents,
                compressed: Self.compresses(element, image: true))
            // dclab marks its image datasets as HDF5 images (fixed-length ASCII strings).
            for (key, value) in [("CLASS", "IMAGE"), ("IMAGE_VERSION", "1.2"), ("IMAGE_SUBCLASS", "IMAGE_GRAYSCALE")] {
                try Self.write(.text(value), named: key, on: dataset, path: path)
            }
        }
        for (name, element) in scalarFeatures {
            try create(
                name, in: events, element: element, itemShape: [], chunkEvents: Self.scalarChunkEvents,
                compressed: Self.compresses(element, image: false))
        }
    }

    /// Whether a feature's chunks are shuffled and deflated. Not the float32 images (`qpi_pha`):
    /// their noise is in the low mantissa bytes, so deflate saves only a fifth of them (0.81 of
    /// 16 kB per 64² crop on the twin) for most of the recorder's CPU, and a compressed chunk
    /// that a flush rewrites (the last, partly filled one) is stored anew, leaving the old one's
    /// space behind, while a raw chunk is rewritten in place (docs/benchmarks.md, "Recording").
    /// Masks (to 0.03), holograms and scalars compress well and cheaply.
    static func compresses(_ element: Element, image: Bool) -> Bool {
        !(image && element == .float32)
    }

    deinit { close() }

    /// Appends a batch of `count` events: one column per feature, each with `count` items.
    /// A column missing or of the wrong length or type is refused before anything is written.
    func append(count: Int, _ columns: [String: Column]) throws(Failure) {
        guard count > 0 else { return }
        guard !closed else { throw Failure(description: "\(path) is closed") }
        Self.library.lock()
        defer { Self.library.unlock() }
        flowd_h5_silence_errors()
        errno = 0
        for (name, dataset) in datasets {
            guard let column = columns[name] else { throw Failure(description: "no values for feature \(name)") }
            let itemCount = Int(dataset.itemShape.reduce(1, *))
            guard column.count == count * itemCount, column.element == dataset.element else {
                throw Failure(description: "feature \(name): \(column.count) \(column.element) values for \(count) events")
            }
        }
        let start = hsize_t(events), added = hsize_t(count)
        for (name, dataset) in datasets {
            let dims = [start + added] + dataset.itemShape
            guard H5Dset_extent(dataset.id, dims) >= 0 else { throw .library("cannot write \(path) (extending \(name))") }
            let fileSpace = H5Dget_space(dataset.id)
            defer { H5Sclose(fileSpace) }
            let offset = [start] + dataset.itemShape.map { _ in hsize_t(0) }
            let shape = [added] + dataset.itemShape
            let memorySpace = H5Screate_simple(Int32(shape.count), shape, nil)
            defer { H5Sclose(memorySpace) }
            guard H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, offset, nil, shape, nil) >= 0,
                columns[name]!.withBytes({ H5Dwrite(dataset.id, dataset.element.type, memorySpace, fileSpace, flowd_h5p_default(), $0) })
                    >= 0
            else { throw .library("cannot write \(path) (\(name))") }
        }
        events += count
        var total = Int64(events)
        guard H5Awrite(eventCount, flowd_h5t_native_int64(), &total) >= 0 else {
            throw .library("cannot write \(path) (the event count)")
        }
    }

    /// Makes everything appended so far durable and visible to readers.
    func flush() throws(Failure) {
        guard !closed else { return }
        Self.library.lock()
        defer { Self.library.unlock() }
        flowd_h5_silence_errors()
        errno = 0
        guard H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0 else { throw .library("cannot write \(path) (flush)") }
    }

    /// Closes the file (its SWMR flag is cleared: any HDF5 reader opens it normally).
    func close() {
        guard !closed else { return }
        closed = true
        Self.library.lock()
        defer { Self.library.unlock() }
        flowd_h5_silence_errors()
        for dataset in datasets.values { H5Dclose(dataset.id) }
        if eventCount >= 0 { H5Aclose(eventCount) }
        H5Fclose(file)
    }

    @discardableResult
    private func create(
        _ name: String, in group: hid_t, element: Element, itemShape: [hsize_t], chunkEvents: Int, compressed: Bool
    ) throws(Failure) -> hid_t {
        let dims = [hsize_t(0)] + itemShape
        let maxDims = [flowd_h5s_unlimited()] + itemShape
        let space = H5Screate_simple(Int32(dims.count), dims, maxDims)
        defer { H5Sclose(space) }
        let properties = H5Pcreate(flowd_h5p_dataset_create())
        defer { H5Pclose(properties) }
        let chunk = [hsize_t(chunkEvents)] + itemShape
        // Shuffling the bytes of each value first groups the exponents: masks compress to 0.03.
        guard H5Pset_chunk(properties, Int32(chunk.count), chunk) >= 0,
            !compressed || (H5Pset_shuffle(properties) >= 0 && H5Pset_deflate(properties, Self.deflateLevel) >= 0)
        else { throw Failure(description: "cannot set up chunks of \(name) in \(path)") }
        let dataset = H5Dcreate2(group, name, element.type, space, flowd_h5p_default(), properties, flowd_h5p_default())
        guard dataset >= 0 else { throw Failure(description: "cannot create feature \(name) in \(path)") }
        datasets[name] = (dataset, element, itemShape)
        return dataset
    }

    /// Creates the attribute `name` on `object`: strings as fixed-length UTF-8 (ASCII for
    /// ASCII text), as dclab reads them (and as its image attributes must be).
    private static func write(_ value: Attribute, named name: String, on object: hid_t, path: String) throws(Failure) {
        let scalar = H5Screate(H5S_SCALAR)
        defer { H5Sclose(scalar) }
        var status: herr_t = -1
        switch value {
        case .text(let text):
            let bytes = Array(text.utf8)
            let type = H5Tcopy(flowd_h5t_c_s1())
            defer { H5Tclose(type) }
            H5Tset_size(type, max(1, bytes.count))
            H5Tset_cset(type, bytes.allSatisfy { $0 < 0x80 } ? H5T_CSET_ASCII : H5T_CSET_UTF8)
            let attribute = H5Acreate2(object, name, type, scalar, flowd_h5p_default(), flowd_h5p_default())
            if attribute >= 0 {
                status = (bytes.isEmpty ? [0] : bytes).withUnsafeBytes { H5Awrite(attribute, type, $0.baseAddress) }
                H5Aclose(attribute)
            }
        case .integer(var number):
            status = writeNumber(&number, type: flowd_h5t_native_int64(), name: name, on: object, space: scalar)
        case .number(var number):
            status = writeNumber(&number, type: flowd_h5t_native_double(), name: name, on: object, space: scalar)
        }
        guard status >= 0 else { throw Failure(description: "cannot write attribute \(name) in \(path)") }
    }

    private static func writeNumber<T: BitwiseCopyable>(_ value: inout T, type: hid_t, name: String, on object: hid_t, space: hid_t) -> herr_t {
        let attribute = H5Acreate2(object, name, type, space, flowd_h5p_default(), flowd_h5p_default())
        guard attribute >= 0 else { return -1 }
        defer { H5Aclose(attribute) }
        return H5Awrite(attribute, type, &value)
    }
}

extension RtdcWriter.Column {
    var count: Int {
        switch self {
        case .float32(let values): values.count
        case .float64(let values): values.count
        case .uint8(let values): values.count
        case .uint32(let values): values.count
        case .uint64(let values): values.count
        }
    }

    var element: RtdcWriter.Element {
        switch self {
        case .float32: .float32
        case .float64: .float64
        case .uint8: .uint8
        case .uint32: .uint32
        case .uint64: .uint64
        }
    }

    func withBytes<Result>(_ body: (UnsafeRawPointer?) -> Result) -> Result {
        switch self {
        case .float32(let values): values.withUnsafeBytes { body($0.baseAddress) }
        case .float64(let values): values.withUnsafeBytes { body($0.baseAddress) }
        case .uint8(let values): values.withUnsafeBytes { body($0.baseAddress) }
        case .uint32(let values): values.withUnsafeBytes { body($0.baseAddress) }
        case .uint64(let values): values.withUnsafeBytes { body($0.baseAddress) }
        }
    }
}
