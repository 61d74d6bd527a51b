import CNATS

/// A failed NATS call: what was being done and the library's own words for why.
public struct NATSError: Error, CustomStringConvertible, Sendable {
    public let description: String

    init(_ what: String, _ status: natsStatus, _ jetStream: jsErrCode = jsErrCode(rawValue: 0)) {
        var why = String(cString: natsStatus_GetText(status))
        var lastStatus = NATS_OK
        if let last = nats_GetLastError(&lastStatus), last.pointee != 0 { why = String(cString: last) }
        description = jetStream.rawValue != 0 ? "\(what): \(why) (JetStream error \(jetStream.rawValue))" : "\(what): \(why)"
    }

    init(_ description: String) {
        self.description = description
    }
}
