import ArgumentParser
import Foundation
import ZeroMQ

/// `flowd watch`: the operator's live view of a running daemon, from its result stream.
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
        let stop = StopSignals()
        let context = ZMQContext()
        let subscriber = try ResultSubscriber(context: context, endpoint: connect, curve: try curve.keys())
        var view = LiveView(endpoint: connect)
        let screen = LiveScreen()
        let deadline = duration.map { ContinuousClock.now + .seconds($0) }
        screen.update(view, force: true)
        while !stop.isRequested, deadline.map({ ContinuousClock.now < $0 }) ?? true {
            guard let message = try subscriber.next(waitingUpTo: 100) else {
                screen.update(view)
                continue
            }
            view.observe(message)
            screen.update(view)
            if case .counts(let counts) = message, counts.final, !follow { break }
        }
        screen.finish(view)
    }
}
