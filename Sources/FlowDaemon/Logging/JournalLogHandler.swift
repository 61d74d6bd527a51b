import Foundation
import Logging

/// Writes log lines to standard error, readable in the journal and in a terminal.
///
/// Under systemd (`JOURNAL_STREAM` set) each line starts with its syslog priority, `<3>` for
/// errors, `<4>` warnings, `<6>` info, `<7>` debug, which journald turns into the entry's
/// priority (sd-daemon(3)); the journal adds the time itself. In a terminal each line starts
/// with an ISO 8601 time and the level.
///
/// The level is a shared ``LogThreshold``: setting it on one logger sets it for all of them.
public struct JournalLogHandler: LogHandler {
    let threshold: LogThreshold
    public var metadata: Logger.Metadata = [:]
    let label: String
    let underJournal: Bool

    public init(label: String, threshold: LogThreshold, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.label = label
        self.threshold = threshold
        self.underJournal = environment["JOURNAL_STREAM"] != nil
    }

    public init(label: String, level: Logger.Level) {
        self.init(label: label, threshold: LogThreshold(level))
    }

    public var logLevel: Logger.Level {
        get { threshold.level }
        nonmutating set { threshold.level = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        let suffix = fields.isEmpty ? "" : " " + fields.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ")
        let line: String
        if underJournal {
            line = "<\(Self.syslogPriority(event.level))>\(event.message)\(suffix)\n"
        } else {
            let time = Date().formatted(.iso8601)
            line = "\(time) \(event.level) \(label): \(event.message)\(suffix)\n"
        }
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
