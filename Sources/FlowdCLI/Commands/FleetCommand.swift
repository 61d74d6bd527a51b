import ArgumentParser
import FlowdTools

/// `flowd fleet …`: the rigs that stream to one NATS server (docs/scale-out.md).
struct Fleet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "See every rig that streams to a NATS server (their nats.url).",
        subcommands: [FleetStatus.self, FleetWatch.self, FleetDeploy.self])
}

/// Where the fleet's NATS server and bucket are.
struct FleetOptions: ParsableArguments {
    @Option(help: "The NATS server the rigs stream to (their nats.url).")
    var nats: String = "nats://127.0.0.1:4222"

    @Option(help: "The key-value bucket of counts and heartbeats (the rigs' nats.bucket).")
    var bucket: String = "flowd"

    @Option(help: "A .creds file for a server that requires one (as the rigs' nats.credentials).")
    var credentials: String?

    @Option(help: "PEM certificates of the CA that signs the server's TLS certificate (as the rigs' nats.tls_ca).")
    var tlsCA: String?

    func validate() throws {
        guard nats.hasPrefix("nats://") || nats.hasPrefix("tls://") else {
            throw ValidationError("--nats must be a nats:// or tls:// URL, such as nats://127.0.0.1:4222")
        }
    }

    func client() throws -> FleetClient {
        try FleetClient(url: nats, bucket: bucket, credentialsFile: credentials, trustedCAFile: tlsCA)
    }
}

/// `flowd fleet status`: one look.
struct FleetStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print each rig's latest counts and heartbeat, once.",
        discussion: "A rig is 'stopped' after its final counts or 5 s without a heartbeat.")

    @OptionGroup var fleet: FleetOptions

    @Flag(help: "Print JSON: {rigs: [{rig, stopped, heartbeat_age_s, counts, heartbeat}]}.")
    var json = false

    func run() async throws {
        let client = try fleet.client()
        print(json ? try client.json() : try client.snapshot().table.joined(separator: "\n"))
    }
}

/// `flowd fleet watch`: live.
struct FleetWatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch", abstract: "Show every rig's live counts, refreshed each second, until Ctrl-C.")

    @OptionGroup var fleet: FleetOptions

    @Option(help: "Stop after this many seconds.")
    var duration: Double?

    func validate() throws {
        if let duration, !(duration > 0) { throw ValidationError("--duration must be positive") }
    }

    func run() async throws {
        try fleet.client().watch(interval: 1, duration: duration)
    }
}

/// `flowd fleet deploy`: one model to the rigs.
struct FleetDeploy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Roll a model out to the rigs through NATS; each daemon swaps it in, verified by its SHA-256.",
        discussion: """
            The file is checked (it must load as a flowd model), stored in the stream FLOWD_MODELS and \
            pinned for each rig in the bucket; each daemon reads it back whole, checks its hash and swaps it \
            in as `flowd control reload-model` does, with frames flowing. Waits until every rig reports \
            it in service.
            """)

    @OptionGroup var fleet: FleetOptions

    @Option(help: "The model file (.safetensors, as topgan export writes it).")
    var model: String

    @Option(help: "A rig to deploy to (repeat for several); default: every rig with a heartbeat in the bucket.")
    var rig: [String] = []

    @Option(help: "Seconds to wait for every rig to have it in service.")
    var wait: Double = 60

    func validate() throws {
        if !(wait > 0) { throw ValidationError("--wait must be positive") }
    }

    func run() async throws {
        try fleet.client().deploy(model: model, rigs: rig, waitSeconds: wait)
    }
}
