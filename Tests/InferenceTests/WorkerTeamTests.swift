import Synchronization
import Testing

@testable import Inference

@Suite("Worker team")
struct WorkerTeamTests {
    final class Counts: Sendable {
        let total = Atomic<Int>(0)
        let member0 = Atomic<Int>(0)
        let member1 = Atomic<Int>(0)
        let member2 = Atomic<Int>(0)
        let member3 = Atomic<Int>(0)

        func member(_ i: Int) -> Int {
            switch i {
            case 0: member0.load(ordering: .relaxed)
            case 1: member1.load(ordering: .relaxed)
            case 2: member2.load(ordering: .relaxed)
            default: member3.load(ordering: .relaxed)
            }
        }

        func count(member i: Int) {
            switch i {
            case 0: member0.wrappingAdd(1, ordering: .relaxed)
            case 1: member1.wrappingAdd(1, ordering: .relaxed)
            case 2: member2.wrappingAdd(1, ordering: .relaxed)
            default: member3.wrappingAdd(1, ordering: .relaxed)
            }
        }
    }

    @Test("every member runs the work once per run, and run returns only after all have")
    func everyMemberRunsOnce() {
        let counts = Counts()
        do {
            let team = WorkerTeam(size: 4)
            team.work = { member in
                counts.total.wrappingAdd(1, ordering: .relaxed)
                counts.count(member: member)
            }
            for run in 1...500 {
                team.run()
                #expect(counts.total.load(ordering: .relaxed) == 4 * run)
            }
        }  // the team's deinit stops its helpers (the test would hang if it did not)
        for member in 0..<4 { #expect(counts.member(member) == 500) }
    }

    @Test("a team of one runs the work on the caller")
    func teamOfOne() {
        let team = WorkerTeam(size: 1)
        nonisolated(unsafe) var members: [Int] = []
        team.work = { members.append($0) }
        team.run()
        #expect(members == [0])
    }

    @Test("helpers that went to sleep wake up for the next run")
    func wakesSleepingHelpers() async throws {
        let counts = Counts()
        let team = WorkerTeam(size: 2)
        team.work = { _ in counts.total.wrappingAdd(1, ordering: .relaxed) }
        team.run()
        try await Task.sleep(for: .milliseconds(50))  // long past the helpers' spinning
        team.run()
        #expect(counts.total.load(ordering: .relaxed) == 4)
    }
}
