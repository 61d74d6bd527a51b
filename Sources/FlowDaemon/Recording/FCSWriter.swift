import Foundation
import Glibc

/// Writes one FCS 3.1 list-mode file (Spidlen et al., Cytometry A 77A (2010) 97–100), one
/// event per cell, float32 parameters, appending as cells arrive and crash-safe at every flush.
///
/// Layout: HEADER (58 bytes) | TEXT | DATA. The keywords that grow with the data (`$TOT`,
/// `$ENDDATA`) are written zero-padded to a fixed width, so that a flush only appends events
/// and then rewrites those fields in place. The order, events first and counts after, each
/// followed by `fdatasync`, means that after a crash the file always describes a prefix of
/// what was recorded: FCS readers take `$TOT` events and ignore any bytes beyond `$ENDDATA`.
///
/// Reserved keywords are the same idea for TEXT that grows during the run (the camera names):
/// their space is reserved at creation, filled with spaces, and rewritten before the events
/// that need them are written.
final class FCSWriter {
    struct Parameter {
        /// Short name (`$PnN`), e.g. "OPD_mean_nm".
        var name: String
        /// Long description (`$PnS`).
        var description: String
        /// Largest value expected (`$PnR`); analysis software scales axes with it.
        var range: Float
    }

    /// A TEXT keyword whose value is written later (and may be rewritten), in at most `width`
    /// bytes (after doubling any delimiter in it).
    struct ReservedKeyword {
        var key: String
        var width: Int
    }

    enum WriteError: Error, CustomStringConvertible {
        case system(String, Int32)
        case eventSize(expected: Int, got: Int)
        case reservedValue(key: String, String)

        var description: String {
            switch self {
            case .system(let operation, let code): "\(operation): \(String(cString: strerror(code)))"
            case .eventSize(let expected, let got): "an event has \(got) values, the file \(expected) parameters"
            case .reservedValue(let key, let problem): "keyword \(key): \(problem)"
            }
        }
    }

    let path: String
    let parameters: [Parameter]
    private let fd: Int32
    private let dataBegin: Int
    private var events = 0
    private var pending: [Float] = []
    /// Byte offsets of the fixed-width fields rewritten at each flush.
    private let totOffset: Int, endDataOffset: Int
    /// Byte offset and width of each reserved keyword's value.
    private let reservedFields: [String: (offset: Int, width: Int)]

    private static let fieldWidth = 20
    /// TEXT starts right after the 58-byte HEADER.
    private static let textBegin = 58
    private static let delimiter: Character = "|"

    /// Creates the file with an empty DATA segment; fails if it exists.
    /// - Parameter keywords: extra TEXT keywords ($CYT, $DATE, flowd's run id, model hash, …).
    /// - Parameter reserved: keywords set later with ``setReserved(_:_:)``; blank until then.
    init(
        path: String, parameters: [Parameter], keywords: [(String, String)], reserved: [ReservedKeyword] = []
    ) throws(WriteError) {
        self.path = path
        self.parameters = parameters
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .system("create \(path)", errno) }

        let zero = String(repeating: "0", count: Self.fieldWidth)
        var text = "|"
        func add(_ key: String, _ value: String) {
            // A delimiter inside a value is written twice (FCS 3.1 §3.2.9); values may not be empty.
            let escaped = value.isEmpty ? " " : value.replacingOccurrences(of: "|", with: "||")
            text += "\(key)|\(escaped)|"
        }
        // Fixed keywords first, so that their byte offsets are known.
        add("$BEGINANALYSIS", "0")
        add("$ENDANALYSIS", "0")
        add("$BEGINSTEXT", "0")
        add("$ENDSTEXT", "0")
        text += "$BEGINDATA|"
        let beginDataField = text.utf8.count
        text += "\(zero)|$ENDDATA|"
        let endDataField = text.utf8.count
        text += "\(zero)|$TOT|"
        let totField = text.utf8.count
        text += "\(zero)|"
        add("$BYTEORD", "1,2,3,4")
        add("$DATATYPE", "F")
        add("$MODE", "L")
        add("$NEXTDATA", "0")
        add("$PAR", "\(parameters.count)")
        for (index, parameter) in parameters.enumerated() {
            let n = index + 1
            add("$P\(n)N", parameter.name)
            add("$P\(n)S", parameter.description)
            add("$P\(n)B", "32")
            add("$P\(n)E", "0,0")
            add("$P\(n)R", "\(Int(parameter.range.rounded(.up)))")
        }
        for (key, value) in keywords { add(key, value) }
        var reservedFields: [String: (offset: Int, width: Int)] = [:]
        for keyword in reserved {
            text += "\(keyword.key)|"
            reservedFields[keyword.key] = (Self.textBegin + text.utf8.count, keyword.width)
            text += String(repeating: " ", count: max(1, keyword.width)) + "|"
        }
        self.reservedFields = reservedFields

        let textBegin = Self.textBegin
        let textEnd = textBegin + text.utf8.count - 1
        dataBegin = textEnd + 1
        totOffset = textBegin + totField
        endDataOffset = textBegin + endDataField
        let withBegin = Self.patch(text, at: beginDataField, value: dataBegin)
        let header = "FCS3.1    " + [textBegin, textEnd, 0, 0, 0, 0].map(Self.headerField).joined()
        do {
            try write(Array(header.utf8) + Array(withBegin.utf8), at: 0)
            try updateCounts()
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Number of events durably on disk.
    var eventsOnDisk: Int { events }

    /// Number of events appended but not yet on disk (a failed flush keeps them for the next).
    var eventsPending: Int { pending.count / max(1, parameters.count) }

    /// Writes the value of a reserved keyword, space-padded to its width; it is synced with the
    /// next ``flush()``, before that flush's events.
    func setReserved(_ key: String, _ value: String) throws(WriteError) {
        guard let field = reservedFields[key] else { throw .reservedValue(key: key, "was not reserved") }
        let escaped = value.replacingOccurrences(of: "|", with: "||")
        guard !escaped.isEmpty, !escaped.hasPrefix("|") else {
            throw .reservedValue(key: key, "a value must not be empty or start with the delimiter")
        }
        guard escaped.utf8.count <= field.width else {
            throw .reservedValue(key: key, "\(escaped.utf8.count) bytes do not fit the \(field.width) reserved")
        }
        let padded = escaped + String(repeating: " ", count: field.width - escaped.utf8.count)
        try write(Array(padded.utf8), at: field.offset)
    }

    /// Queues one event (one value per parameter); it reaches the disk at the next ``flush()``.
    func append(_ event: [Float]) throws(WriteError) {
        guard event.count == parameters.count else {
            throw .eventSize(expected: parameters.count, got: event.count)
        }
        pending.append(contentsOf: event)
    }

    /// Appends the queued events, then updates `$TOT`, `$ENDDATA` and the HEADER; each step is
    /// synced to disk before the next.
    func flush() throws(WriteError) {
        guard !pending.isEmpty else { return }
        let newEvents = pending.count / parameters.count
        let bytes = pending.withUnsafeBytes { Array($0) }  // little-endian on every platform flowd runs on
        try write(bytes, at: dataBegin + events * parameters.count * 4)
        guard fdatasync(fd) == 0 else { throw .system("fdatasync \(path)", errno) }
        events += newEvents
        pending.removeAll(keepingCapacity: true)
        try updateCounts()
    }

    private func updateCounts() throws(WriteError) {
        // Inclusive offset of the last data byte: dataBegin − 1 while there are no events, so
        // that readers compute a data segment of 0 bytes.
        let dataEnd = dataBegin + events * parameters.count * 4 - 1
        try write(Array(Self.fixed(events).utf8), at: totOffset)
        try write(Array(Self.fixed(dataEnd).utf8), at: endDataOffset)
        // The HEADER holds offsets only while they fit in 8 digits; else 0, and readers use TEXT.
        let headerData = dataEnd <= 99_999_999 ? [dataBegin, dataEnd] : [0, 0]
        try write(Array(headerData.map(Self.headerField).joined().utf8), at: 26)
        guard fdatasync(fd) == 0 else { throw .system("fdatasync \(path)", errno) }
    }

    private func write(_ bytes: [UInt8], at offset: Int) throws(WriteError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system("write \(path)", errno)
            }
            done += n
        }
    }

    private static func fixed(_ value: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: fieldWidth - digits.count) + digits
    }

    private static func headerField(_ value: Int) -> String {
        let digits = String(value)
        return String(repeating: " ", count: 8 - digits.count) + digits
    }

    private static func patch(_ text: String, at offset: Int, value: Int) -> String {
        var bytes = Array(text.utf8)
        bytes.replaceSubrange(offset..<(offset + fieldWidth), with: Array(fixed(value).utf8))
        return String(decoding: bytes, as: UTF8.self)
    }
}
