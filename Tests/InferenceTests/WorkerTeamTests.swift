import Foundation
import Synchronization
import Testing

@testable import Inference

@Suite("Worker team")
struct WorkerTeamTests {
    /// How often each tile ran, and on how many distinct threads the tiles ran.
    final class TileLog: Sendable {
        private let runs = Mutex<[Int: Int]>([:])
        private let threads = Mutex<Set<String>>([])

        func record(_ tile: Int) {
            runs.withLock { $0[tile, default: 0] += 1 }
            threads.withLock { _ = $0.insert(Thread.current.isMainThread ? "main" : "\(pthread_self())") }
        }

        var timesRun: [Int: Int] { runs.withLock { $0 } }
        var threadCount: Int { threads.withLock { $0.count } }
    }

    @Test("every tile of every job runs exactly once, and run returns only after all are done")
    func everyTileRunsOnce() {
        let log = TileLog()
        do {
            let team = WorkerTeam(size: 4)
            let tilesPerJob = 37
            var job = 0
            team.work = { tile in log.record(job * tilesPerJob + tile) }
            for j in 0..<300 {
                job = j
                team.run(tiles: tilesPerJob)
                #expect(log.timesRun.count == (j + 1) * tilesPerJob)
            }
        }  // the team's deinit stops its helpers (the test would hang if it did not)
        #expect(log.timesRun.values.allSatisfy { $0 == 1 })
    }

    @Test("a team of one runs every tile on the caller, in order")
    func teamOfOne() {
        let team = WorkerTeam(size: 1)
        nonisolated(unsafe) var tiles: [Int] = []
        team.work = { tiles.append($0) }
        team.run(tiles: 5)
        #expect(tiles == [0, 1, 2, 3, 4])
    }

    @Test("a job of no tiles returns at once")
    func emptyJob() {
        let team = WorkerTeam(size: 2)
        team.work = { _ in Issue.record("no tile should run") }
        team.run(tiles: 0)
    }

    @Test("helpers that went to sleep wake up and share the next job")
    func wakesSleepingHelpers() async throws {
        let team = WorkerTeam(size: 2)
        team.run(tiles: 1)
        try await Task.sleep(for: .milliseconds(50))  // long past the helpers' spinning
        let log = TileLog()
        team.work = { tile in
            log.record(tile)
            usleep(2_000)  // long enough that the caller cannot take every tile before a helper wakes
        }
        team.run(tiles: 64)
        #expect(log.timesRun.count == 64)
        #expect(log.threadCount == 2)
    }
}
