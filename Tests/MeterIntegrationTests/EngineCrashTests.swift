import Foundation
import MeterTestSupport
import XCTest

/// Runs the real engine in a child process (meter-engine-driver), drives it with 8 concurrent
/// writers, kills it with SIGKILL at random moments, restarts it, and checks that every
/// acknowledged event is counted exactly once and that resending everything changes nothing
/// but the unacknowledged events, which then count once.
final class EngineCrashTests: XCTestCase {
    private let writers = 8
    private let batch = 10

    private func value(_ n: Int) -> Decimal { Decimal(n % 100) + Decimal(string: "0.25")! }

    func testSigkillAtRandomMomentsLosesNoAcknowledgedEventAndCountsEachOnce() throws {
        let kills = Int(ProcessInfo.processInfo.environment["METERD_CRASH_KILLS"] ?? "") ?? 20
        print("crash test: \(kills) kills (set METERD_CRASH_KILLS to change)")
        var random = TestSeed.generator(for: #function)
        let seed = TestSeed.description
        let directory = try TemporaryDirectory("meterd-crash", removedBy: addTeardownBlock).file("data")
        var rounds = CrashRounds()
        for round in 0..<kills {
            let killAfter = Int.random(in: 1...120, using: &random)
            try rounds.run(directory: directory, round: round, modes: []) { acknowledgements, _ in acknowledgements >= killAfter }
        }
        try verifyExactlyOnce(directory: directory, rounds: rounds, seed: seed)
    }

    /// The same check with 8 KiB segments and a snapshot every 4 records, with kills aimed at
    /// the moments the next segment is being preallocated (counted when the half-prepared file
    /// was left behind) and while background snapshots are written; every
    /// other round holds the first snapshot on its thread and kills only after 40 more
    /// acknowledgements, which also shows that a snapshot in progress never stops the writer.
    func testSigkillDuringPreallocationAndBackgroundSnapshotsLosesNothing() throws {
        let kills = Int(ProcessInfo.processInfo.environment["METERD_CRASH_KILLS"] ?? "") ?? 20
        print("churn crash test: \(kills) kills")
        var random = TestSeed.generator(for: #function)
        let seed = TestSeed.description
        let directory = try TemporaryDirectory("meterd-churn", removedBy: addTeardownBlock).file("data")
        var rounds = CrashRounds()
        var duringPreallocation = 0, duringSnapshotWrite = 0
        for round in 0..<kills {
            if round % 2 == 1 {
                var acknowledgementsAtSnapshot: Int?
                try rounds.run(directory: directory, round: round, modes: ["churn", "hold-snapshot"]) { acknowledgements, line in
                    if line.hasPrefix("SNAPSHOT ") { acknowledgementsAtSnapshot = acknowledgements }
                    guard let held = acknowledgementsAtSnapshot else { return false }
                    return acknowledgements >= held + 40
                }
                XCTAssertNotNil(acknowledgementsAtSnapshot, "round \(round): no snapshot started (seed \(seed))")
            } else {
                // Kill as soon as a spare segment is seen half-prepared (the signal may still land
                // after it is done), or at a random moment if none is seen.
                let killAfter = Int.random(in: 100...300, using: &random)
                let partial = directory + "/log-spare.wal.partial"
                try rounds.run(directory: directory, round: round, modes: ["churn"]) { acknowledgements, _ in
                    acknowledgements >= killAfter || access(partial, F_OK) == 0
                }
                let names = try FileManager.default.contentsOfDirectory(atPath: directory)
                if names.contains(where: { $0.hasSuffix(".partial") }) { duringPreallocation += 1 }
                if names.contains(where: { $0.hasPrefix("snapshot-") && $0.hasSuffix(".tmp") }) { duringSnapshotWrite += 1 }
            }
        }
        print("churn crash test: of \((kills + 1) / 2) kills aimed at preallocation, \(duringPreallocation) left a half-prepared spare segment and \(duringSnapshotWrite) a half-written snapshot")
        XCTAssertGreaterThan(duringPreallocation, 0, "no kill landed during segment preallocation (seed \(seed))")
        try verifyExactlyOnce(directory: directory, rounds: rounds, seed: seed)
    }

    /// Acknowledged and attempted event numbers per round and writer, from the driver's lines.
    private struct CrashRounds {
        var acked: [[Set<Int>]] = []
        var attempted: [[Int]] = []
        let writers = 8
        let batch = 10

        /// Runs one driver until `shouldKill` (given the acknowledgements so far and the line just
        /// read) says so, SIGKILLs it and records what it acknowledged.
        mutating func run(directory: String, round: Int, modes: [String], shouldKill: (Int, String) -> Bool) throws {
            let child = try ChildProcess("meter-engine-driver", ["run", directory, "\(round)", "\(writers)", "\(batch)"] + modes)
            var roundAcked = Array(repeating: Set<Int>(), count: writers)
            var roundAttempted = Array(repeating: batch, count: writers)
            var acknowledgements = 0
            var killed = false
            while let line = child.nextLine() {
                let fields = line.split(separator: " ")
                if fields.first == "ACK", fields.count == 5 {
                    let writer = Int(fields[2])!, first = Int(fields[3])!, count = Int(fields[4])!
                    XCTAssertEqual(Int(fields[1]), round)
                    roundAcked[writer].formUnion(first..<(first + count))
                    // The writer sends its next batch right after this acknowledgement.
                    roundAttempted[writer] = Swift.max(roundAttempted[writer], first + count + batch)
                    acknowledgements += 1
                }
                if !killed && shouldKill(acknowledgements, line) {
                    child.signal(SIGKILL)
                    killed = true
                }
            }
            // Lines written before the kill are acknowledgements too: `nextLine` drained them all.
            let exit = child.wait()
            XCTAssertTrue(killed, "round \(round): the driver stopped before being killed: \(exit.errorOutput)")
            XCTAssertTrue(exit.killedBySignal && exit.status == SIGKILL, "round \(round): \(exit)")
            acked.append(roundAcked)
            attempted.append(roundAttempted)
        }
    }

    /// Every acknowledged event survived and counts once; resending everything that may have
    /// been sent makes the acknowledged ones duplicates and the state then equals the oracle's.
    private func verifyExactlyOnce(directory: String, rounds: CrashRounds, seed: String) throws {
        let (acked, attempted) = (rounds.acked, rounds.attempted)
        let kills = acked.count
        let recovered = try totals(directory)
        for writer in 0..<writers {
            let ackedCount = acked.map { $0[writer].count }.reduce(0, +)
            let attemptedCount = attempted.map { $0[writer] }.reduce(0, +)
            let counted = recovered.counts["c\(writer)"] ?? 0
            XCTAssertGreaterThanOrEqual(counted, ackedCount, "writer \(writer) lost acknowledged events (seed \(seed))")
            XCTAssertLessThanOrEqual(counted, attemptedCount, "writer \(writer) counted events never sent (seed \(seed))")
        }
        // Recovering the same directory twice gives the same full state.
        XCTAssertEqual(try totals(directory).state, recovered.state, "replay is not deterministic (seed \(seed))")

        // Resend everything that may have been sent: acknowledged ones must all be duplicates.
        let plan = try TemporaryDirectory("meterd-plan", removedBy: addTeardownBlock).file("plan")
        var planText = ""
        for round in 0..<kills { for writer in 0..<writers { planText += "\(round) \(writer) \(attempted[round][writer])\n" } }
        try planText.write(toFile: plan, atomically: true, encoding: .utf8)
        let resend = try ChildProcess("meter-engine-driver", ["resend", directory, plan])
        var duplicates = Set<String>()
        var resendLines = 0
        while let line = resend.nextLine() {
            resendLines += 1
            let fields = line.split(separator: " ", maxSplits: 2)
            XCTAssertNotEqual(fields.first, "REJECTED", line)
            if fields.first == "DUPLICATE" { duplicates.insert(String(fields[1])) }
        }
        XCTAssertEqual(resend.wait().status, 0)
        XCTAssertEqual(resendLines, attempted.flatMap { $0 }.reduce(0, +))
        for round in 0..<kills {
            for writer in 0..<writers {
                for n in acked[round][writer] {
                    XCTAssertTrue(duplicates.contains("r\(round)-w\(writer)-\(n)"), "acknowledged r\(round)-w\(writer)-\(n) was not in the state (seed \(seed))")
                }
            }
        }

        // Now every sent event counts exactly once: counts and exact sums equal the oracle's.
        let final = try totals(directory)
        for writer in 0..<writers {
            var expectedCount = 0
            var expectedSum = Decimal(0)
            for round in 0..<kills {
                for n in 0..<attempted[round][writer] {
                    expectedCount += 1
                    expectedSum += value(n)
                }
            }
            XCTAssertEqual(final.counts["c\(writer)"], expectedCount, "writer \(writer) (seed \(seed))")
            XCTAssertEqual(final.sums["c\(writer)"], expectedSum, "writer \(writer) (seed \(seed))")
        }
    }

    func testSigtermFinishesInFlightWorkAndKeepsEveryAcknowledgedEvent() throws {
        let directory = try TemporaryDirectory("meterd-term", removedBy: addTeardownBlock).file("data")
        let child = try ChildProcess("meter-engine-driver", ["run", directory, "0", "\(writers)", "\(batch)"])
        var acked = Array(repeating: 0, count: writers)
        var acknowledgements = 0
        var stopped = false
        while let line = child.nextLine() {
            let fields = line.split(separator: " ")
            if fields.first == "ACK" {
                acked[Int(fields[2])!] = Swift.max(acked[Int(fields[2])!], Int(fields[3])! + Int(fields[4])!)
                acknowledgements += 1
                if acknowledgements == 50 { child.signal(SIGTERM) }
            }
            if line == "STOPPED" { stopped = true }
        }
        let exit = child.wait()
        XCTAssertTrue(stopped)
        XCTAssertEqual(exit.status, 0, exit.errorOutput)
        XCTAssertFalse(exit.killedBySignal)
        XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: directory).contains { $0.hasPrefix("snapshot-") })
        let recovered = try totals(directory)
        for writer in 0..<writers {
            // Writers stop at the first refused batch, so what was acknowledged is exactly what counts.
            XCTAssertEqual(recovered.counts["c\(writer)"] ?? 0, acked[writer], "writer \(writer)")
        }
    }

    private func totals(_ directory: String) throws -> (counts: [String: Int], sums: [String: Decimal], state: String) {
        let child = try ChildProcess("meter-engine-driver", ["totals", directory])
        var counts: [String: Int] = [:]
        var sums: [String: Decimal] = [:]
        var state = ""
        while let line = child.nextLine() {
            let fields = line.split(separator: " ")
            if fields.first == "TOTAL" {
                counts[String(fields[1])] = Int(fields[2])!
                sums[String(fields[1])] = Decimal(string: String(fields[3]))!
            } else if fields.first == "STATE" {
                state = line
            }
        }
        let exit = child.wait()
        XCTAssertEqual(exit.status, 0, exit.errorOutput)
        return (counts, sums, state)
    }
}
