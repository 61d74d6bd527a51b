import Foundation
import Glibc

/// The `flowd run` processes one trial of `flowd bench pipeline` measures: one daemon (the
/// default, `role: all`), or, with `--worker-processes N`, one `--role aggregator` and N
/// `--role worker` processes of one frame worker each (docs/scale-out.md). The camera then binds
/// its PUSH socket and the workers connect to it, so that libzmq spreads the frames round-robin
/// over them, as a rig's camera or fan-out would.
struct BenchRig {
    struct Member {
        /// `daemon`, `aggregator` or `worker N`.
        let role: String
        let child: FlowdChild
        let metricsPort: Int
    }

    /// The daemon or the aggregator first (its /metrics carry the cells and the final counts),
    /// then the workers.
    let members: [Member]
    let publishPort: Int
    /// Where the camera sends, and whether it binds (workers connect) or connects (the daemon binds).
    let cameraEndpoint: String
    let cameraBinds: Bool

    /// `workerProcesses` 0: one daemon with `workers` frame workers (its default: one per core).
    init(model: String, refocus: String, workers: Int?, workerProcesses: Int) throws {
        let inputPort = try freeLoopbackPort(), publishPort = try freeLoopbackPort()
        let common = [
            "--model", model, "--set", "log.level=warning", "--set", "publish.counts_interval_s=0.25",
            "--set", "reconstruction.refocus=\(refocus)",
        ]
        func start(_ role: String, _ arguments: [String]) throws -> Member {
            let metricsPort = try freeLoopbackPort()
            let child = try FlowdChild(
                "flowd run (\(role))", arguments: ["run"] + arguments + common + ["--set", "metrics.listen=127.0.0.1:\(metricsPort)"],
                log: nil)
            return Member(role: role, child: child, metricsPort: metricsPort)
        }
        self.publishPort = publishPort
        cameraEndpoint = "tcp://127.0.0.1:\(inputPort)"
        cameraBinds = workerProcesses > 0
        guard workerProcesses > 0 else {
            members = [
                try start(
                    "daemon",
                    ["--input", "pull+bind:\(cameraEndpoint)", "--publish", "tcp://127.0.0.1:\(publishPort)"]
                        + (workers.map { ["--set", "workers=\($0)"] } ?? []))
            ]
            return
        }
        let aggregatorEndpoint = "tcp://127.0.0.1:\(try freeLoopbackPort())"
        var members = [
            try start(
                "aggregator",
                ["--role", "aggregator", "--set", "scale_out.listen=\(aggregatorEndpoint)", "--publish", "tcp://127.0.0.1:\(publishPort)"])
        ]
        for i in 0..<workerProcesses {
            // Each worker publishes its own counts on a port of its own; the aggregator alone
            // has the control socket (its default port).
            members.append(
                try start(
                    "worker \(i)",
                    [
                        "--role", "worker", "--input", "pull:\(cameraEndpoint)", "--set", "scale_out.aggregator=\(aggregatorEndpoint)",
                        "--publish", "tcp://127.0.0.1:\(try freeLoopbackPort())", "--set", "control.endpoint=",
                        "--set", "workers=\(workers ?? 1)",
                    ]))
        }
        self.members = members
    }

    var main: Member { members[0] }
    /// The processes that reconstruct frames: the daemon, or the workers.
    var frameMembers: ArraySlice<Member> { members.count == 1 ? members[...] : members.dropFirst() }

    /// The first member that is no longer running, as an error naming it.
    func exited() -> ToolError? {
        members.first { !$0.child.isRunning }.map {
            ToolError("\($0.child.name) exited (status \($0.child.exitStatus!))")
        }
    }

    func kill() {
        for member in members { member.child.send(SIGKILL) }
    }
}
