import Protocol
import Reconstruction
import Simulator
import Testing

@Suite("One reconstructor, many workers")
struct ConcurrencyTests {
    @Test("workers with their own workspaces get the single-thread result")
    func sharedReconstructor() async throws {
        let scene = try Scene(size: 256, classes: [.healthy], positions: [(128, 128)], seed: 51)
        var parameters = scene.parameters
        parameters.minAreaUm2 = 10
        let reconstructor = try OffAxisReconstructor(reference: HologramImage(frame: scene.reference), parameters: parameters)
        let hologram = HologramImage(frame: scene.hologram)
        let expected = try reconstructor.process(hologram, workspace: reconstructor.makeWorkspace()).map(\.features)
        #expect(expected.count == 1)
        let results = try await withThrowingTaskGroup(of: [CellFeatures].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let workspace = reconstructor.makeWorkspace()
                    var last: [CellFeatures] = []
                    for _ in 0..<5 { last = try reconstructor.process(hologram, workspace: workspace).map(\.features) }
                    return last
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 4)
        #expect(results.allSatisfy { $0 == expected })
    }
}
