import ContentHash
import Testing

@Suite("SHA-256 as sha256sum prints it")
struct SHA256HexTests {
    @Test("the FIPS 180-4 examples, in 64 lower-case hex digits with leading zeros kept")
    func knownDigests() {
        #expect(sha256Hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // Its digest has bytes below 0x10 ("06", "0c"): each keeps its leading zero.
        #expect(sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
