import Protocol
import Testing

@testable import FlowdTools

/// A `counts` message at `uptime` seconds with `received` frames and cells by label.
private func counts(uptime: Double, received: UInt64, cells: [String: UInt64], final: Bool = false) -> CountsMessage {
    CountsMessage(
        uptimeSeconds: uptime, cameras: ["twin": CameraCounters(frames: FrameCounters(received: received, dropped: 1))],
        cells: CellCounts(total: cells.values.reduce(0, +), byClass: cells, perSecond: 12.5), final: final)
}

@Suite("The live view of flowd watch and flowd demo")
struct LiveViewTests {
    @Test("bars are drawn in eighths of a column, from nothing to the full width")
    func bars() {
        #expect(LiveView.bar(0, width: 10) == "")
        #expect(LiveView.bar(1, width: 10) == String(repeating: "█", count: 10))
        #expect(LiveView.bar(0.5, width: 10) == String(repeating: "█", count: 5))
        #expect(LiveView.bar(0.05, width: 10) == "▌")  // 4 eighths
        #expect(LiveView.bar(0.0625, width: 10) == "▋")  // 5 eighths
        #expect(LiveView.bar(2, width: 4) == "████")  // clamped
    }

    @Test("classes in the given order, then other labels alphabetically, unknown last")
    func order() {
        var view = LiveView(endpoint: "tcp://127.0.0.1:5560")
        view.classOrder = ["healthy", "primary_cancer", "metastatic_cancer"]
        #expect(
            view.orderedLabels(["unknown": 1, "metastatic_cancer": 2, "debris": 3])
                == ["healthy", "primary_cancer", "metastatic_cancer", "debris", "unknown"])
    }

    @Test("the frame rate comes from two counts messages; a restarted daemon starts it again")
    func frameRate() {
        var view = LiveView(endpoint: "e")
        view.observe(.counts(counts(uptime: 1, received: 10, cells: [:])))
        #expect(view.frameRate == nil)
        view.observe(.counts(counts(uptime: 3, received: 50, cells: [:])))
        #expect(view.frameRate == 20)
        view.observe(.counts(counts(uptime: 0.5, received: 0, cells: [:])))
        #expect(view.frameRate == nil)
    }

    @Test("the terminal panel shows counts, shares and bars; the plain line says the same in one line")
    func rendering() {
        var view = LiveView(endpoint: "tcp://127.0.0.1:5560")
        #expect(view.panel(width: 80) == ["flowd  tcp://127.0.0.1:5560  waiting for the daemon's counts…"])
        view.observe(.counts(counts(uptime: 3725, received: 100, cells: ["healthy": 30, "unknown": 10], final: true)))
        view.observe(.undecodable(topic: "cell", reason: "not a cell message"))
        let panel = view.panel(width: 80)
        #expect(panel[0] == "flowd  tcp://127.0.0.1:5560  up 1:02:05  (stopped: final counts)")
        #expect(panel[1].hasPrefix("frames  received 100  dropped 1  malformed 0"))
        #expect(panel[2].hasPrefix("cells   total 40  12.5 cells/s"))
        #expect(panel[3].hasPrefix("  healthy       30  75.0 % ████"))
        #expect(panel[4].hasPrefix("  unknown       10  25.0 % ████"))
        #expect(view.panel(width: 40).allSatisfy { $0.count <= 40 })  // a narrow terminal: cut, never wrapped
        #expect(panel.last == "unreadable result messages: 1 (last: cell: not a cell message)")
        #expect(
            view.line()
                == "up 3725.0 s | frames 100 received, 1 dropped, 0 malformed | cells 40, 12.5/s: "
                + "healthy 30 (75.0 %), unknown 10 (25.0 %) | 1 unreadable messages | final")
    }
}
