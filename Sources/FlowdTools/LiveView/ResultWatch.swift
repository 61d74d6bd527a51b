import Foundation
import ZeroMQ

/// `flowd watch`: the operator's live view of a running daemon, from its result stream. On a
/// terminal the view is redrawn in place; otherwise one line is printed per `counts` message.
/// Stops on Ctrl-C, after `duration`, or at the daemon's final counts unless `follow`.
public struct ResultWatch {
    /// The daemon's result endpoint (its publish.endpoint).
    public var connect: String
    /// Seconds to watch; `nil`: until stopped.
    public var duration: Double?
    /// Keep watching after the daemon's final counts (across restarts of the daemon).
    public var follow: Bool
    public var curve: CurveClientKeys?

    public init(connect: String, duration: Double?, follow: Bool, curve: CurveClientKeys?) {
        (self.connect, self.duration, self.follow, self.curve) = (connect, duration, follow, curve)
    }

    public func run() throws {
        let stop = StopSignals()
        let context = ZMQContext()
        let subscriber = try ResultSubscriber(context: context, endpoint: connect, curve: curve)
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
