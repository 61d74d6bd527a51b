import Foundation
import Glibc

/// Puts a ``LiveView`` on standard output: on a terminal the panel is redrawn in place (ANSI
/// cursor movement, at most 10 times a second); otherwise (a pipe, a file, a CI log) one plain
/// line is appended per `counts` message, so that the output reads as a log.
final class LiveScreen {
    let isTerminal: Bool
    private var drawnLines = 0
    private var lastDraw: UInt64 = 0
    /// The `uptime_s` of the counts of the last plain line (one line per counts message).
    private var lastPrintedUptime: Double?
    private var printedWaiting = false

    init(isTerminal: Bool = isatty(STDOUT_FILENO) == 1) {
        self.isTerminal = isTerminal
    }

    /// Shows `view` if it changed enough to be worth it; `force` draws a terminal at once.
    func update(_ view: LiveView, force: Bool = false) {
        if isTerminal {
            let now = DispatchTime.now().uptimeNanoseconds
            guard force || now - lastDraw >= 100_000_000 else { return }
            lastDraw = now
            draw(view.panel(width: Self.terminalWidth()))
        } else if let counts = view.latest {
            guard counts.uptimeSeconds != lastPrintedUptime else { return }
            lastPrintedUptime = counts.uptimeSeconds
            write(view.line() + "\n")
        } else if !printedWaiting {
            printedWaiting = true
            write(view.line() + "\n")
        }
    }

    /// Text that stays above the live panel on a terminal (printed as it is elsewhere).
    func log(_ text: String) {
        if isTerminal { clear() }
        write(text + "\n")
        drawnLines = 0
    }

    /// Draws the last state and leaves it on screen.
    func finish(_ view: LiveView) {
        update(view, force: true)
        drawnLines = 0
    }

    private func draw(_ lines: [String]) {
        var text = drawnLines > 0 ? "\u{1B}[\(drawnLines)F" : ""  // to the start of the panel
        for line in lines { text += line + "\u{1B}[K\n" }  // each line, clearing what it did not cover
        if lines.count < drawnLines { text += "\u{1B}[J" }  // and anything below a shorter panel
        write(text)
        drawnLines = lines.count
    }

    private func clear() {
        guard drawnLines > 0 else { return }
        write("\u{1B}[\(drawnLines)F\u{1B}[J")
    }

    /// Through stdio, like `print`, so that the two never overtake each other, and flushed at
    /// once (stdout is block-buffered when it is not a terminal).
    private func write(_ text: String) {
        print(text, terminator: "")
        fflush(nil)
    }

    /// Columns of the terminal on standard output (80 when it does not say).
    private static func terminalWidth() -> Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
}
