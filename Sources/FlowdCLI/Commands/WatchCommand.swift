import ArgumentParser
import FlowdTools

/// `flowd watch`: ``ResultWatch``.
struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a running daemon's live counts: frames, cells per class with a bar chart, rates.",
        discussion: """
            Subscribes to the daemon's result stream (publish.endpoint; topics counts and cell). On a \
            terminal the view is redrawn in place; otherwise one line is printed per counts message. \
            Stops on Ctrl-C, after --duration, or when the daemon publishes its final counts (it is \
            stopping), unless --follow.
            """)

    @Option(help: "The daemon's result endpoint (its publish.endpoint).")
    var connect: String = "tcp://127.0.0.1:5560"

    @Option(help: "Stop after this many seconds.")
    var duration: Double?

    @Flag(help: "Keep watching after the daemon's final counts (across restarts of the daemon).")
    var follow = false

    @OptionGroup(title: "CurveZMQ (to a flowd with curve.server_key set; this key on its curve.subscriber_keys)")
    var curve: CurveClientOptions

    func validate() throws {
        guard ["tcp://", "ipc://"].contains(where: connect.hasPrefix) else {
            throw ValidationError("--connect must be a tcp:// or ipc:// endpoint, such as tcp://127.0.0.1:5560")
        }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be positive") }
    }

    func run() async throws {
        try ResultWatch(connect: connect, duration: duration, follow: follow, curve: try curve.keys()).run()
    }
}
