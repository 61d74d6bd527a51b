import ArgumentParser
import Inference

/// `flowd`: stain-free holographic imaging flow cytometry, live at the microscope.
///
/// Each subcommand lives in its own file under Commands/.
@main
struct Flowd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flowd",
        abstract: "Stain-free holographic imaging flow cytometry daemon.",
        discussion: "Holograms of flowing cells in over ZeroMQ; one label per cell and running "
            + "population counts out. See README.md and docs/.",
        subcommands: [
            Run.self, Demo.self, Watch.self, Simulate.self, Reconstruct.self, Propagate.self, Extract.self, Classify.self, Bench.self, Control.self, Fleet.self, Keygen.self,
        ])

    /// First, switch OpenBLAS to the fastest kernel this CPU supports (a re-exec; see
    /// `BLASRuntime.ensureOptimalCore()`), then parse and run the subcommand.
    static func main() async {
        BLASRuntime.ensureOptimalCore()
        await main(nil)
    }
}
