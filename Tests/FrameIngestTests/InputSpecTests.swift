import Testing

@testable import FrameIngest

@Suite("An input is written MODE:ENDPOINT")
struct InputSpecTests {
    @Test("sub and pull connect, rep binds, by default")
    func defaultSides() throws {
        #expect(try InputSpec(parsing: "sub:tcp://127.0.0.1:5555") == InputSpec(mode: .sub, endpoint: "tcp://127.0.0.1:5555", binds: false))
        #expect(try InputSpec(parsing: "pull:ipc:///run/cam").binds == false)
        #expect(try InputSpec(parsing: "rep:tcp://127.0.0.1:5555").binds == true)
    }

    @Test("+bind and +connect override the side")
    func explicitSide() throws {
        #expect(try InputSpec(parsing: "pull+bind:tcp://127.0.0.1:5556").binds == true)
        #expect(try InputSpec(parsing: "rep+connect:tcp://127.0.0.1:5556").binds == false)
        #expect(try InputSpec(parsing: "pull+bind:tcp://127.0.0.1:5556").description == "pull+bind:tcp://127.0.0.1:5556")
    }

    @Test(
        "anything else is refused with the expected form",
        arguments: ["", "sub", "tcp://127.0.0.1:5555", "push:tcp://x:1", "sub+both:tcp://x:1", "sub:http://x:1", "sub:tcp://"])
    func rejects(text: String) {
        #expect(throws: InputSpec.ParseError.self) { try InputSpec(parsing: text) }
    }
}
