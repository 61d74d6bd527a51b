import FlowdConfig
import Foundation

/// The metadata of a run's cells.rtdc: the keys dclab's integrity check requires
/// (`dclab.rtdc_dataset.check.IMPORTANT_KEYS`) and those that describe the phase images
/// (`qpi:*`), as root attributes named `section:key`. What only the lab knows comes from the
/// `record.*` config keys; `experiment:event count` is kept current by ``RtdcWriter``.
enum RtdcMetadata {
    /// - Parameters:
    ///   - runIndex: the run's number since the daemon started (1, 2, …).
    ///   - sample: the run's sample name (`record.sample`, or `new-run --sample`).
    static func attributes(
        runID: String, runIndex: Int, startedAt date: Date, sample: String, lab: RecordSettings,
        optics: RtdcEventLayout.Optics
    ) -> [(String, RtdcWriter.Attribute)] {
        let utc = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        return [
            ("experiment:date", .text(String(format: "%04d-%02d-%02d", utc.year!, utc.month!, utc.day!))),
            ("experiment:time", .text(String(format: "%02d:%02d:%02d", utc.hour!, utc.minute!, utc.second!))),
            ("experiment:timestamp", .number(date.timeIntervalSince1970)),
            ("experiment:sample", .text(sample)),
            ("experiment:run index", .integer(Int64(runIndex))),
            ("experiment:run identifier", .text(runID)),
            // The images are crops centred on each cell, not a fixed region of the sensor.
            ("imaging:pixel size", .number(optics.cropPixelUm)),
            ("imaging:roi size x", .integer(Int64(optics.cropSize))),
            ("imaging:roi size y", .integer(Int64(optics.cropSize))),
            ("imaging:roi position x", .integer(0)),
            ("imaging:roi position y", .integer(0)),
            ("imaging:frame rate", .number(lab.frameRateHz)),
            ("imaging:flash device", .text(lab.lightSource)),
            ("imaging:flash duration", .number(lab.exposureMicroseconds)),
            ("qpi:wavelength", .number(optics.wavelengthNm)),
            ("qpi:medium index", .number(optics.mediumIndex)),
            ("qpi:pixel size raw", .number(optics.hologramPixelUm)),
            ("setup:channel width", .number(lab.channelWidthUm)),
            ("setup:chip region", .text("channel")),
            ("setup:flow rate", .number(lab.flowRateMicrolitresPerSecond)),
            ("setup:medium", .text(lab.medium)),
            ("setup:software version", .text("flowd")),
            ("setup:identifier", .text("flowd@" + ProcessInfo.processInfo.hostName)),
            ("setup:module composition", .text("flowd")),
        ]
    }
}
