import FlowdConfig
import FrameIngest
import Testing

@testable import FlowDaemon

@Suite("Every socket binds loopback by default; one opened to the network without Curve is pointed out")
struct AccessTests {
    @Test("the defaults: inputs connect to loopback, results, control and metrics listen on loopback, no warning")
    func loopbackDefaults() {
        let config = DaemonConfig()
        #expect(config.inputs.allSatisfy { !EndpointExposure.isNetworkReachable($0.endpoint) })
        #expect(config.inputs.allSatisfy { !$0.binds })
        #expect(!EndpointExposure.isNetworkReachable(config.publishEndpoint))
        #expect(config.controlEndpoint.map(EndpointExposure.isNetworkReachable) == false)
        #expect(config.metricsListen.map { EndpointExposure.isNetworkReachable("tcp://" + $0) } == false)
        #expect(EndpointExposure.warnings(config).isEmpty)
        #expect(!config.curve.isOn)
    }

    @Test(
        "which endpoints other machines can reach",
        arguments: [
            ("tcp://127.0.0.1:5560", false), ("tcp://127.1.2.3:1", false), ("tcp://localhost:5560", false),
            ("tcp://[::1]:5560", false), ("ipc:///run/flowd/results", false), ("inproc://x", false),
            ("tcp://0.0.0.0:5560", true), ("tcp://*:5560", true), ("tcp://192.168.1.20:5560", true),
            ("tcp://[::]:5560", true), ("tcp://eth0:5560", true),
        ])
    func reachability(endpoint: String, reachable: Bool) {
        #expect(EndpointExposure.isNetworkReachable(endpoint) == reachable)
    }

    @Test("each socket on the network is named (inputs, results, control, metrics); Curve silences all but metrics")
    func warnings() throws {
        var config = DaemonConfig()
        config.inputs = [try InputSpec(parsing: "pull+bind:tcp://0.0.0.0:5556"), try InputSpec(parsing: "sub:tcp://10.0.0.5:5555")]
        config.publishEndpoint = "tcp://*:5560"
        config.controlEndpoint = "tcp://0.0.0.0:5561"
        config.metricsListen = "0.0.0.0:9464"
        let warnings = EndpointExposure.warnings(config)
        #expect(warnings.count == 4)
        #expect(warnings[0].contains("pull+bind:tcp://0.0.0.0:5556") && warnings[0].contains("send frames"))
        #expect(warnings[1].contains("publish.endpoint") && warnings[1].contains("read every cell"))
        #expect(warnings[2].contains("control.endpoint") && warnings[2].contains("swap the model"))
        #expect(warnings[3].contains("metrics.listen") && warnings[3].contains("token") && warnings[3].contains("in clear"))
        config.curve.serverKey = "/etc/flowd/curve/flowd.key_secret"
        #expect(EndpointExposure.warnings(config).count == 1)
    }
}

@Suite("Access: the aggregator's detections socket")
struct AggregatorExposureTests {
    @Test("an aggregator listening beyond loopback is warned about, Curve or not: its socket has no authentication")
    func aggregatorListen() {
        var config = DaemonConfig()
        config.scaleOut.role = .aggregator
        config.scaleOut.listen = "tcp://127.0.0.1:5570"
        #expect(EndpointExposure.warnings(config).isEmpty)
        config.scaleOut.listen = "tcp://0.0.0.0:5570"
        config.curve.serverKey = "/etc/flowd/curve/flowd.key_secret"
        let warnings = EndpointExposure.warnings(config)
        #expect(warnings.count == 1 && warnings[0].contains("scale_out.listen") && warnings[0].contains("counted cells"))
    }
}
