import Protocol

/// The shape limits the decoder is fuzzed with: small, so that inputs of a few kilobytes can be
/// whole valid frames and the fuzzer explores past the size check into the pixels.
private let limits = FrameLimits(maxRows: 64, maxCols: 64)

/// The fuzz target (libFuzzer calls it with each input): one input is one ZeroMQ multipart message, encoded as
/// `[part count mod 4] [u16 LE length of each part but the last] … [the last part: the rest]`
/// (scripts/fuzz writes its seeds so).
///
/// Beyond "never crash", it checks two properties:
/// - every rejection is a ``FrameDecodingError`` whose message holds no control character (it
///   goes to the journal; a newline there would let a sender forge log lines);
/// - every accepted header survives the trip through ``FrameHeader/jsonBytes()`` unchanged.
func fuzzFrameDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    guard let parts = multipartMessage(input) else { return -1 }  // -1: not worth keeping
    do throws(FrameDecodingError) {
        let header = try Frame(parts: parts, limits: limits).header
        let again = header.jsonBytes().withUnsafeBytes { bytes in
            Result { () throws(FrameDecodingError) in try FrameHeader(json: bytes, limits: limits) }
        }
        precondition(again == .success(header), "header \(header) came back as \(again)")
    } catch {
        precondition(
            !error.description.unicodeScalars.contains { $0.properties.generalCategory == .control },
            "error message with a control character: \(error.description.debugDescription)")
    }
    return 0
}

/// Splits a fuzz input into message parts (see ``fuzzFrameDecoder(_:_:)``); `nil` when the
/// length prefixes run past the end.
private func multipartMessage(_ input: UnsafeRawBufferPointer) -> [UnsafeRawBufferPointer]? {
    guard let first = input.first else { return nil }
    let count = Int(first % 4)
    var offset = 1
    var parts: [UnsafeRawBufferPointer] = []
    for _ in 0..<max(0, count - 1) {
        guard offset + 2 <= input.count else { return nil }
        let length = Int(input[offset]) | Int(input[offset + 1]) << 8
        offset += 2
        guard offset + length <= input.count else { return nil }
        parts.append(UnsafeRawBufferPointer(rebasing: input[offset..<(offset + length)]))
        offset += length
    }
    if count > 0 { parts.append(UnsafeRawBufferPointer(rebasing: input[offset...])) }
    return parts
}
