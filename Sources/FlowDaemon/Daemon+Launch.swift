import FlowdConfig
import Foundation
import Inference
import Logging

extension Daemon {
    /// What `flowd run` does, as systemd starts it: loads the config, sets up logging (the
    /// journal's format, the configured level), starts the daemon and runs it until SIGTERM or
    /// SIGINT. Returns the exit status: 0, 78 (EX_CONFIG) for a config that does not load (or a
    /// monitoring port beyond loopback without a usable token file), 69 (EX_UNAVAILABLE) for an
    /// endpoint, model or reference that cannot be used, also when the monitoring port cannot
    /// bind once the services run (the daemon then stops gracefully).
    /// - Parameter loadConfig: loads the config from the defaults, the file, the environment and
    ///   the command line; SIGHUP reloads from the same sources.
    public static func launch(loadConfig: @escaping @Sendable () throws -> DaemonConfig) async throws -> Int32 {
        let config: DaemonConfig
        do { config = try loadConfig() } catch {
            FileHandle.standardError.write(Data("flowd: \(error)\n".utf8))
            return 78  // EX_CONFIG
        }
        let threshold = LogThreshold(config.logLevel)
        LoggingSystem.bootstrap { JournalLogHandler(label: $0, threshold: threshold) }
        let logger = Logger(label: "flowd")
        let environment = ProcessInfo.processInfo.environment
        for variable in ConfigLoader.unknownEnvironmentVariables(environment, alsoKnown: [BLASRuntime.replacedCoreVariable]) {
            logger.warning("environment variable \(variable) names no config key and is ignored (see config/flowd.yaml)")
        }
        let daemon: Daemon
        do {
            daemon = try await Daemon(config: config, logger: logger, threshold: threshold, loadConfig: loadConfig)
        } catch let error as AccessToken.LoadError {
            logger.critical("cannot start: \(error)")
            return 78  // EX_CONFIG
        } catch {
            logger.critical("cannot start: \(error)")
            return 69  // EX_UNAVAILABLE
        }
        do {
            try await daemon.run()
        } catch {
            logger.critical("stopped: \(error)")
            return 69  // EX_UNAVAILABLE
        }
        logger.info("stopped")
        return 0
    }
}
