import CMallocCounter
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

    @Test("a helper allocates nothing between its tiles: claiming, spinning, sleeping and waking")
    func helpersAllocateNothingBetweenTiles() async throws {
        let team = WorkerTeam(size: 2)
        let caller = pthread_self()
        let helperTiles = Atomic<Int>(0)
        let allocations = Atomic<UInt64>(0)
        // On a helper, each tile ends the thread's count since its previous tile and starts the
        // next one: what is counted is exactly the team's own code between tiles.
        team.work = { _ in
            let onHelper = pthread_equal(pthread_self(), caller) == 0
            if onHelper {
                allocations.add(flowd_malloc_counter_end(), ordering: .relaxed)
                helperTiles.add(1, ordering: .relaxed)
            }
            usleep(200)  // long enough that the caller cannot take every tile
            if onHelper { flowd_malloc_counter_begin() }
        }
        for round in 0..<40 {
            team.run(tiles: 16)
            // Every few rounds, long enough for the helper to go to sleep and be woken.
            if round % 8 == 7 { usleep(20_000) }
        }
        #expect(helperTiles.load(ordering: .relaxed) > 40)
        #expect(allocations.load(ordering: .relaxed) == 0)
    }
}
