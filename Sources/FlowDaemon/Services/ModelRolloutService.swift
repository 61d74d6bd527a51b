import Foundation
import Logging
import NATS
import ServiceLifecycle

/// Takes the model the fleet pinned for this rig (`flowd fleet deploy`, ``ModelRollout``) into
/// service while the daemon runs.
///
/// Once a second, while connected: reads the rig's `<rig>.model` pin; a pin of another model
/// than the one in service is read back from the stream whole, checked against its SHA-256,
/// written to `<record dir>/deployed-<sha256>.safetensors` and swapped in exactly as
/// `flowd control reload-model` does (frames keep flowing; a model with other classes or input
/// is refused and the running one keeps serving). A pin that failed is not tried again until it
/// changes. `<rig>.model_in_service` says which model serves.
struct ModelRolloutService: Service {
    let connection: NATSConnection
    let rig: String
    let bucket: String
    let directory: String
    let control: DaemonControl
    let logger: Logger

    /// What the turns remember: the pin that failed, the model last announced as in service.
    /// Touched by one turn at a time (each is awaited before the next).
    private final class Memory: @unchecked Sendable {
        var failed: String?
        var announced: String?
    }

    func run() async throws {
        let memory = Memory()
        await repeatUntilGracefulShutdown(every: .seconds(1)) {
            await runOffCooperativePool { turn(memory) }
        }
    }

    private func turn(_ memory: Memory) {
        guard connection.isConnected else { return }
        do {
            if let bytes = try connection.value(key: "\(rig).model", bucket: bucket) {
                let pin = try JSONDecoder().decode(ModelRollout.Pin.self, from: Data(bytes))
                if pin.sha256 != control.inForce.model?.sha256, pin.sha256 != memory.failed {
                    memory.failed = pin.sha256
                    try takeIntoService(pin)
                    memory.failed = nil
                }
            }
            guard let model = control.inForce.model, model.sha256 != memory.announced else { return }
            let pin = ModelRollout.Pin(sha256: model.sha256, chunks: 0, bytes: 0, name: model.path)
            try connection.put([UInt8](try JSONEncoder().encode(pin)), key: "\(rig).model_in_service", bucket: bucket)
            memory.announced = model.sha256
        } catch {
            logger.error("fleet model roll-out: \(error); the running model keeps serving")
        }
    }

    private func takeIntoService(_ pin: ModelRollout.Pin) throws {
        logger.notice("fleet model roll-out: \(pin.name) (sha256 \(pin.sha256)) pinned for rig \(rig); reading it from NATS")
        let bytes = try ModelRollout.fetch(pin, through: connection)
        let path = (directory as NSString).appendingPathComponent("deployed-\(pin.sha256).safetensors")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        try control.swapModel(path: path)
    }
}
