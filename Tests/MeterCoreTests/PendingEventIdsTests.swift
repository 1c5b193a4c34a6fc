import MeterCore
import XCTest

/// The pipelined writer screens group N+1 while group N is accepted but not applied: N+1's set
/// must refuse N's ids, yet hold only its own (a set that inherited every earlier group's ids
/// grew for as long as the writer stayed busy, and was copied whole for every group).
final class PendingEventIdsTests: XCTestCase {
    func testAGroupRefusesTheIdsOfTheUnappliedGroupBeforeItButHoldsOnlyItsOwn() {
        var first = PendingEventIds()
        XCTAssertTrue(first.insertIfAbsent("a"))
        XCTAssertTrue(first.insertIfAbsent("b"))
        XCTAssertFalse(first.insertIfAbsent("a"), "a repeat inside one group")

        var second = PendingEventIds(after: first)
        XCTAssertFalse(second.insertIfAbsent("a"), "accepted by the group before, not applied yet")
        XCTAssertTrue(second.insertIfAbsent("c"))
        XCTAssertFalse(second.insertIfAbsent("c"))
        XCTAssertEqual(second.count, 1, "only its own ids")

        // The third group follows the second once the first is applied: the first's ids are in
        // the state's index by then, so the set only has to know the second's.
        var third = PendingEventIds(after: second)
        XCTAssertFalse(third.insertIfAbsent("c"))
        XCTAssertTrue(third.insertIfAbsent("a"), "the first group's ids are not carried forward")
        XCTAssertEqual(third.count, 1)
        XCTAssertEqual(first.count, 2, "the group before is never changed")
    }

    func testAnIdRemovedAfterARefusedRequestCanBeAcceptedAgain() {
        let first = PendingEventIds()
        var second = PendingEventIds(after: first)
        XCTAssertTrue(second.insertIfAbsent("x"))
        second.remove("x")
        XCTAssertEqual(second.count, 0)
        XCTAssertTrue(second.insertIfAbsent("x"))
    }
}
