import ArgumentParser

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
        subcommands: [Simulate.self, Reconstruct.self, Extract.self, Bench.self])
}
