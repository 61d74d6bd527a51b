import Dashboard
import Foundation
import Testing

@Suite("The dashboard's cell feed")
struct CellFeedTests {
    @Test("a reader gets the cells after its cursor, at most maxCells of the newest, and the cursor moves past them")
    func cursor() {
        let feed = CellFeed(capacity: 100, galleryPerClass: 2)
        for id in 0..<10 { feed.offer(cellMessage(label: "T", dryMassPg: Double(id), areaUm2: 1, cellID: UInt64(id)), crop: []) }
        var (points, _, cursor) = feed.read(after: 0, maxCells: 4)
        #expect(points.map(\.dryMassPg) == [6, 7, 8, 9])  // a page that fell behind skips the older cells
        #expect(cursor == 10)
        (points, _, cursor) = feed.read(after: cursor, maxCells: 4)
        #expect(points.isEmpty && cursor == 10)
        feed.offer(cellMessage(label: "B", dryMassPg: 42, areaUm2: 1), crop: [])
        (points, _, cursor) = feed.read(after: cursor, maxCells: 4)
        #expect(points.map(\.label) == ["B"] && cursor == 11)
    }

    @Test("memory is fixed: the ring keeps the newest `capacity` cells, the gallery the newest crops of each class")
    func bounded() {
        let feed = CellFeed(capacity: 5, galleryPerClass: 2)
        for id in 0..<12 {
            let label = id % 2 == 0 ? "T" : "B"
            feed.offer(cellMessage(label: label, dryMassPg: Double(id), areaUm2: 1, cellID: UInt64(id)), crop: [Float(id)])
        }
        let (points, crops, _) = feed.read(after: 0, maxCells: 1000)
        #expect(points.map(\.dryMassPg) == [7, 8, 9, 10, 11])
        #expect(crops.map(\.cellID) == [8, 9, 10, 11])
        #expect(feed.read(after: 10, maxCells: 1000).crops.map(\.cellID) == [10, 11])
        #expect(feed.skipped == 0)
    }

    @Test("a crop travels as 8-bit codes between its own minimum and maximum OPD")
    func cropCodes() throws {
        let feed = CellFeed()
        feed.offer(cellMessage(label: "T", dryMassPg: 1, areaUm2: 1, camera: "c", cellID: 7), crop: [0, 100, 50, 200])
        let update = DashboardUpdate(status: .null, points: [], crops: feed.read(after: 0, maxCells: 10).crops)
        let json = update.serverSentEvent()
        #expect(json.hasPrefix("event: update\ndata: {") && json.hasSuffix("}\n\n"))
        let codes = Data([0, 128, 64, 255]).base64EncodedString()
        #expect(json.contains("{\"codes\":\"\(codes)\",\"id\":\"c/7\",\"label\":\"T\",\"max_nm\":200,\"min_nm\":0,\"side\":2}"))
    }
}
