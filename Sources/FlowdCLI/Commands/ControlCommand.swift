import ArgumentParser
import FlowdTools
import Foundation
import Protocol

extension ControlRequest.Command: ExpressibleByArgument {}

/// `flowd control`: one request to a running daemon's control socket (``ControlClient``), its reply printed.
struct Control: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send one command to a running flowd's control socket and print its JSON reply.",
        discussion: """
            Commands: status (run, model, counts), new-run (end the run's record, start another, \
            reset the cell counts; --sample NAME names its sample), reload-model [--path P] (swap the model; a bad one is refused \
            and the old one keeps serving), snapshot (write the run's cells and run.json now). \
            Exit status: 0 when the reply says ok, 1 when it refuses (its "error" says why), 69 \
            when no reply came in time. See docs/operations.md.
            """)

    @Option(help: "The daemon's control endpoint (control.endpoint).")
    var connect = "tcp://127.0.0.1:5561"

    @Argument(help: "status, new-run, reload-model or snapshot.")
    var command: ControlRequest.Command

    @Option(help: "reload-model: the model file (default: the daemon's model.path).")
    var path: String?

    @Option(help: "new-run: the new run's sample name, in its cells.rtdc and run.json (default: record.sample).")
    var sample: String?

    @Option(help: "Seconds to wait for the reply (a model reload loads and checks the file first).")
    var timeout: Double = 30

    @OptionGroup(title: "CurveZMQ (to a flowd with curve.server_key set; this key on its curve.controller_keys)")
    var curve: CurveClientOptions

    func validate() throws {
        if path != nil, command != .reloadModel { throw ValidationError("--path goes with reload-model only") }
        if let sample {
            guard command == .newRun else { throw ValidationError("--sample goes with new-run only") }
            if let problem = ControlRequest.sampleProblem(sample) { throw ValidationError("--sample \(problem)") }
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive; got \(timeout)") }
    }

    func run() throws {
        let reply: [UInt8]
        do {
            reply = try ControlClient(connect: connect, timeout: timeout, curve: try curve.keys())
                .send(ControlRequest(command: command, path: path, sample: sample))
        } catch let error as ControlClient.NoReply {
            FileHandle.standardError.write(Data("flowd control: \(error)\n".utf8))
            throw ExitCode(69)  // EX_UNAVAILABLE
        }
        FileHandle.standardOutput.write(Data(reply + [0x0A]))
        guard ControlClient.isOK(reply) else { throw ExitCode(1) }
    }
}
