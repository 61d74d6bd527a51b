import Foundation
import Protocol

/// `run.json`: what a run's cells.fcs was recorded with, and its counts.
///
/// Written when the run starts, replaced (atomically) at each `snapshot`, each live setting
/// change, and when the run ends, with its final counts (docs/operations.md).
struct RunMetadata: Codable, Sendable, Equatable {
    /// The model file that classifies the run's cells.
    struct ModelInfo: Codable, Sendable, Equatable {
        var path: String
        /// SHA-256 of the file's bytes as loaded, hex.
        var sha256: String
        var classes: [String]
    }

    /// A setting changed while the run was recording (SIGHUP, or the `reload-model` command).
    struct Change: Codable, Sendable, Equatable {
        /// Seconds from the run's start, and the time (UTC, ISO 8601 with milliseconds).
        var sinceSeconds: Double
        var at: String?
        /// Cells recorded before the change took effect.
        var cellsBefore: UInt64
        var key: String
        var value: JSONValue
        /// The new model, for a `model.path` change.
        var model: ModelInfo?

        enum CodingKeys: String, CodingKey {
            case sinceSeconds = "since_s", at, cellsBefore = "cells_before", key, value, model
        }
    }

    var v = 1
    var runID: String
    /// UTC, ISO 8601 with milliseconds.
    var startedAt: String
    var endedAt: String?
    /// `stopped` (SIGTERM or SIGINT) or `new-run`; nil while the run is recording.
    var endReason: String?
    /// The event file, relative to the run's directory.
    var fcsFile = "cells.fcs"
    /// Events on disk in the FCS file when this was written.
    var eventsRecorded: Int = 0
    /// The dclab file of the same cells with their images (nil when not written), its events on
    /// disk when this was written, and why it stopped early, if it did.
    var rtdcFile: String?
    var rtdcEvents: Int?
    var rtdcError: String?
    /// What the .rtdc file's `userdef0`, `userdef1`, … hold (``RtdcEventLayout/userdefFeatures``).
    var rtdcUserdef: [String]?
    /// The same for the objects that were not cells (rejects.rtdc), and what its `reason` values
    /// mean (``ObjectRejection`` raw values, by index).
    var rejectsFile: String?
    var rejectsEvents: Int?
    var rejectsError: String?
    var rejectsUserdef: [String]?
    var rejectReasons: [String]?
    /// The run's sample (`record.sample`, or `flowd control new-run --sample`).
    var sample: String?
    /// Thread CPU time the recorder spent writing this run's files so far, s.
    var recorderCPUSeconds: Double = 0
    /// Every config key's value in force when the run started (see ``changes``).
    var config: [String: JSONValue]
    /// The model at the run's start; nil without one.
    var model: ModelInfo?
    /// What the FCS `class` values mean, and the `camera` values (cameras in order of their
    /// first recorded cell).
    var classes: [String]
    var cameras: [String] = []
    var changes: [Change] = []
    /// The `counts` message when this was written: the final one once the run ended.
    var counts: CountsMessage?

    enum CodingKeys: String, CodingKey {
        case v
        case runID = "run_id", startedAt = "started_at", endedAt = "ended_at", endReason = "end_reason"
        case fcsFile = "fcs_file", eventsRecorded = "events_recorded"
        case rtdcFile = "rtdc_file", rtdcEvents = "rtdc_events", rtdcError = "rtdc_error", rtdcUserdef = "rtdc_userdef"
        case rejectsFile = "rejects_file", rejectsEvents = "rejects_events", rejectsError = "rejects_error"
        case rejectsUserdef = "rejects_userdef", rejectReasons = "reject_reasons"
        case sample, recorderCPUSeconds = "recorder_cpu_s"
        case config, model, classes, cameras, changes, counts
    }

    func jsonBytes() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [0x0A]
    }

    /// `date` as run.json writes times: UTC, ISO 8601 with milliseconds.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
