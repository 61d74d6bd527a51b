import Testing

@testable import Inference

@Suite("OpenBLAS core selection")
struct BLASRuntimeTests {
    static let avx512: Set<String> = ["avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]

    @Test("AVX-512 with BF16 (Cooper Lake, Sapphire/Emerald Rapids) gets Cooperlake")
    func cooperlake() {
        #expect(BLASRuntime.bestCoreType(cpuFlags: Self.avx512.union(["avx512_bf16", "amx_tile", "amx_bf16"])) == "Cooperlake")
    }

    @Test("AVX-512 F/CD/BW/DQ/VL without BF16 gets SkylakeX")
    func skylakeX() {
        #expect(BLASRuntime.bestCoreType(cpuFlags: Self.avx512) == "SkylakeX")
    }

    @Test("AVX-512 missing any of F/CD/BW/DQ/VL falls back to Haswell (AVX2 + FMA)")
    func partialAVX512() {
        for missing in ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"] {
            #expect(BLASRuntime.bestCoreType(cpuFlags: Self.avx512.subtracting([missing]).union(["avx512_bf16"])) == "Haswell")
        }
    }

    @Test("AVX2 without FMA gets Sandybridge; no AVX leaves OpenBLAS's choice alone")
    func olderCPUs() {
        #expect(BLASRuntime.bestCoreType(cpuFlags: ["avx", "avx2"]) == "Sandybridge")
        #expect(BLASRuntime.bestCoreType(cpuFlags: ["sse2", "sse4_2"]) == nil)
    }

    @Test("the flags line of /proc/cpuinfo is parsed")
    func parsesCPUInfo() {
        let text = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu avx2 fma avx512f\nbugs\t\t: spectre_v1\n"
        #expect(BLASRuntime.cpuFlags(cpuinfo: text) == ["fpu", "avx2", "fma", "avx512f"])
        #expect(BLASRuntime.cpuFlags(cpuinfo: "") == [])
    }

    @Test("re-exec only when OpenBLAS detected a slower core and nobody chose one")
    func reexecRules() {
        #expect(BLASRuntime.shouldReexec(environment: [:], detected: "Prescott", best: "Cooperlake"))
        #expect(!BLASRuntime.shouldReexec(environment: ["OPENBLAS_CORETYPE": "Haswell"], detected: "Haswell", best: "Cooperlake"))
        #expect(!BLASRuntime.shouldReexec(environment: ["FLOWD_OPENBLAS_DETECTED_CORE": "Prescott"], detected: "Prescott", best: "Cooperlake"))
        #expect(!BLASRuntime.shouldReexec(environment: [:], detected: "SkylakeX", best: "SkylakeX"))
        #expect(!BLASRuntime.shouldReexec(environment: [:], detected: "SapphireRapids", best: "Cooperlake"))
        #expect(!BLASRuntime.shouldReexec(environment: [:], detected: "Prescott", best: nil))
    }

    @Test("threads per worker never oversubscribe the cores")
    func threadsPerWorker() {
        for workers in 1...8 {
            let t = BLASRuntime.threadsPerWorker(workers: workers)
            #expect(t >= 1)
            #expect(t * workers <= max(BLASRuntime.cores, workers))
        }
    }
}
