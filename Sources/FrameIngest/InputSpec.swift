/// One camera input: how flowd's socket meets the sender's.
///
/// Written `MODE:ENDPOINT` on the command line (`--input sub:tcp://127.0.0.1:5555`) and in the
/// config's `inputs` list. MODE is one of
/// - `sub`: connect a SUB socket to a camera's PUB (imagezmq with `REQ_REP=False`, pyzmq PUB);
/// - `pull`: connect a PULL socket to a camera's PUSH (detector style);
/// - `rep`: bind a REP socket for imagezmq's default REQ/REP senders, replying `OK` to each frame.
/// A `+bind` or `+connect` suffix overrides the side: `pull+bind:tcp://127.0.0.1:5556` lets
/// several PUSH senders connect to flowd.
public struct InputSpec: Sendable, Equatable, CustomStringConvertible {
    public enum Mode: String, Sendable, CaseIterable {
        case sub, pull, rep
    }

    public var mode: Mode
    public var endpoint: String
    /// `true`: flowd binds and senders connect; `false`: flowd connects to the sender.
    public var binds: Bool

    public init(mode: Mode, endpoint: String, binds: Bool? = nil) {
        self.mode = mode
        self.endpoint = endpoint
        self.binds = binds ?? (mode == .rep)
    }

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses `MODE[+bind|+connect]:ENDPOINT`.
    public init(parsing text: String) throws(ParseError) {
        let usage = "expected MODE:ENDPOINT with MODE sub, pull or rep (optionally +bind or +connect), "
            + "e.g. sub:tcp://127.0.0.1:5555; got \"\(text)\""
        guard let colon = text.firstIndex(of: ":") else { throw ParseError(description: usage) }
        let modeText = text[..<colon]
        let endpoint = String(text[text.index(after: colon)...])
        let parts = modeText.split(separator: "+", omittingEmptySubsequences: false)
        guard let first = parts.first, let mode = Mode(rawValue: String(first)), parts.count <= 2 else {
            throw ParseError(description: usage)
        }
        var binds: Bool? = nil
        if parts.count == 2 {
            switch parts[1] {
            case "bind": binds = true
            case "connect": binds = false
            default: throw ParseError(description: usage)
            }
        }
        let transports = ["tcp://", "ipc://", "inproc://"]
        guard transports.contains(where: { endpoint.hasPrefix($0) }), endpoint.count > 7 else {
            throw ParseError(description: "endpoint must start with tcp://, ipc:// or inproc://; got \"\(text)\"")
        }
        self.init(mode: mode, endpoint: endpoint, binds: binds)
    }

    public var description: String {
        let side = binds == (mode == .rep) ? "" : (binds ? "+bind" : "+connect")
        return "\(mode.rawValue)\(side):\(endpoint)"
    }
}
