import CBLAS
import Foundation

/// OpenBLAS's kernel ("core") and thread count: choosing them safely, applying them, reporting
/// them.
///
/// Why this exists: Debian 12's OpenBLAS 0.3.21 does not know newer Xeons (CPUID model 0xCF,
/// Emerald Rapids, among others) and falls back to its "Prescott" SSE3 kernels, which run sgemm
/// 5–8× below the AVX-512 ones. The kernel can only be forced with the OPENBLAS_CORETYPE
/// environment variable, read once when libopenblas loads, and it is linked, so it loads before
/// `main`. ``ensureOptimalCore()`` therefore re-executes the process once with the variable set.
public enum BLASRuntime {
    /// The variable OpenBLAS reads at load time; an operator's value always wins.
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"
    /// Set on the re-executed process to the core OpenBLAS had picked by itself: it prevents a
    /// second re-exec and lets the log say what was replaced.
    public static let replacedCoreVariable = "FLOWD_OPENBLAS_DETECTED_CORE"

    /// The fastest OpenBLAS core whose instructions the CPU and kernel support, from the
    /// `flags` line of /proc/cpuinfo (which lists only what the kernel enabled, so AVX-512
    /// appears only when the OS saves the ZMM state). `nil` when nothing beats the default.
    ///
    /// - Cooperlake: AVX-512 F/CD/BW/DQ/VL + AVX512-BF16 (SkylakeX's sgemm kernels, BF16 sbgemm);
    /// - SkylakeX: AVX-512 F/CD/BW/DQ/VL;
    /// - Haswell: AVX2 + FMA; Sandybridge: AVX.
    ///
    /// SapphireRapids is never chosen: its kernels use AMX tiles, which a process must request
    /// from the kernel (arch_prctl) and which OpenBLAS 0.3.21 cannot even be forced to.
    public static func bestCoreType(cpuFlags flags: Set<String>) -> String? {
        let avx512 = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
        if avx512 && flags.contains("avx512_bf16") { return "Cooperlake" }
        if avx512 { return "SkylakeX" }
        if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
        if flags.contains("avx") { return "Sandybridge" }
        return nil
    }

    /// Orders OpenBLAS's x86-64 core names by the vector width of their sgemm kernels.
    static func rank(ofCore name: String) -> Int {
        switch name.lowercased() {
        case "sapphirerapids": 5
        case "cooperlake": 4
        case "skylakex": 3
        case "haswell", "zen": 2
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator": 1
        default: 0
        }
    }

    /// The CPU flags of the first processor in a /proc/cpuinfo text.
    public static func cpuFlags(cpuinfo: String) -> Set<String> {
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }

    /// Whether a process should re-execute itself to get `best` instead of `detected`: only if
    /// the operator set nothing, this is not already the re-executed process, and `best` is
    /// strictly faster than what OpenBLAS chose by itself.
    static func shouldReexec(environment: [String: String], detected: String, best: String?) -> Bool {
        guard environment[coreTypeVariable] == nil, environment[replacedCoreVariable] == nil, let best else { return false }
        return rank(ofCore: best) > rank(ofCore: detected)
    }

    /// Call first thing in `main`: if OpenBLAS picked a slower core than this CPU supports and
    /// the operator did not set OPENBLAS_CORETYPE, re-executes /proc/self/exe with the same
    /// arguments and OPENBLAS_CORETYPE set to ``bestCoreType(cpuFlags:)``. Returns normally when
    /// nothing needs to change, or when the re-exec fails (then the slower core stays in use and
    /// ``selection`` says so).
    public static func ensureOptimalCore() {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let best = bestCoreType(cpuFlags: cpuFlags(cpuinfo: cpuinfo))
        let detected = coreName
        guard shouldReexec(environment: ProcessInfo.processInfo.environment, detected: detected, best: best),
            let best
        else { return }
        setenv(coreTypeVariable, best, 1)
        setenv(replacedCoreVariable, detected, 1)
        fflush(nil)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Only reached if execv failed: carry on with the detected core.
        unsetenv(coreTypeVariable)
        setenv(replacedCoreVariable, "\(detected) (re-exec failed: errno \(errno))", 1)
    }

    /// The core OpenBLAS is using, e.g. "Cooperlake".
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// Threads each BLAS call uses (OpenBLAS's global setting).
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Sets the threads each BLAS call uses. An ``InferenceContext`` sets 1: it splits each
    /// GEMM across its own thread team instead (whose size is the context's `threads`; with W
    /// workers, ``threadsPerWorker(workers:)`` keeps threads × workers within the cores).
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// Cores available to this process (its CPU affinity mask).
    public static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Threads per inference worker that keep `workers` × threads ≤ ``cores``.
    public static func threadsPerWorker(workers: Int) -> Int { max(1, cores / max(1, workers)) }

    /// One log line: the core in use, how it was chosen, and the thread count.
    public static var selection: String {
        let env = ProcessInfo.processInfo.environment
        let how: String
        if let replaced = env[replacedCoreVariable] {
            how = "chosen by flowd from the CPU flags; OpenBLAS had detected \(replaced)"
        } else if let forced = env[coreTypeVariable] {
            how = "\(coreTypeVariable)=\(forced) set by the operator"
        } else {
            how = "detected by OpenBLAS"
        }
        return "OpenBLAS core \(coreName) (\(how)), \(threads) thread(s) per BLAS call, \(cores) core(s)"
    }
}
