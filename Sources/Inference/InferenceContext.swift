import CBLAS
import CInferenceKernels
import Foundation
import SystemSupport

/// One worker's execution context: the arena that holds every activation and scratch buffer a
/// forward pass needs, allocated once for up to ``maxBatch`` images. A steady-state call to
/// ``classify(opd:batch:probabilities:)`` allocates nothing, so its latency has no allocator in
/// its tail.
///
/// Not thread-safe: give each worker its own context (they can share one ``Model``). A context
/// runs each GEMM on its own team of ``threads`` threads (the caller and `threads − 1` helpers),
/// each taking tiles of the rows or columns (``split(m:n:)``); so keep the sum of
/// `threads` over all contexts ≤ cores (``BLASRuntime/threadsPerWorker(workers:)``).
public final class InferenceContext {
    public let model: Model
    /// The largest batch one call accepts.
    public let maxBatch: Int
    /// Threads that run this context's GEMMs, the calling thread included.
    public var threads: Int { team.size }

    private let team: WorkerTeam
    /// The GEMM the team is running; written by the calling thread before ``WorkerTeam/run(tiles:)``.
    private var task: GemmTask?

    /// Largest im2col scratch, in floats (4 MiB, i.e. 2 MiB, one L2 cache, per member of a
    /// two-thread team): a convolution whose whole-batch col matrix is bigger runs as several
    /// GEMMs over consecutive blocks of output pixels, so col is still in L2 when the GEMM reads
    /// it. (With OpenBLAS, 16 MiB blocks cost ~10 % more CPU time per image at batch 32 here, and
    /// 1–2 MiB blocks re-packed the weights too often.)
    static let columnBudget = 1 << 20

    /// The arena, zero-filled so that untouched padding never holds NaN: two activation buffers
    /// (ping-pong) and the im2col scratch.
    private let ping: AlignedBuffer<Float>
    private let pong: AlignedBuffer<Float>
    private let columns: AlignedBuffer<Float>
    /// A features model's scratch: one crop in double precision, and its features.
    private let featureImage: AlignedBuffer<Double>
    private let featureValues: AlignedBuffer<Double>

    /// Allocates the arena for batches of up to `maxBatch` images and starts `threads − 1`
    /// helper threads. Sets OpenBLAS to one thread per call: the context splits the work itself.
    public init(model: Model, maxBatch: Int, threads: Int = BLASRuntime.cores) throws(ModelError) {
        guard maxBatch >= 1, maxBatch <= 1 << 16 else {
            throw ModelError("maxBatch must be between 1 and 65536; got \(maxBatch)")
        }
        guard threads >= 1, threads <= 256 else {
            throw ModelError("threads must be between 1 and 256; got \(threads)")
        }
        let widest = model.layers.reduce(model.inputCount) { max($0, $1.inputCount, $1.outputCount) }
        var columnFloats = 1
        for case .convolution(let c) in model.layers where c.needsIm2Col {
            columnFloats = max(columnFloats, min(maxBatch * c.outH * c.outW, max(1, Self.columnBudget / c.k)) * c.k)
        }
        let bytes = (2 * maxBatch * widest + columnFloats) * MemoryLayout<Float>.stride
        guard bytes <= Self.maxArenaBytes else {
            throw ModelError(
                "an arena for batches of \(maxBatch) would take \(bytes >> 20) MiB (limit \(Self.maxArenaBytes >> 20) MiB); use a smaller maxBatch")
        }
        BLASRuntime.setThreads(1)
        self.model = model
        self.maxBatch = maxBatch
        self.team = WorkerTeam(size: threads)
        ping = AlignedBuffer(count: maxBatch * widest, initial: 0)
        pong = AlignedBuffer(count: maxBatch * widest, initial: 0)
        columns = AlignedBuffer(count: columnFloats, initial: 0)
        featureImage = AlignedBuffer(count: model.readsFeatures ? model.inputCount : 1, initial: 0)
        featureValues = AlignedBuffer(count: CropFeatures.count, initial: 0)
        arenaBytes = bytes
        team.work = { [unowned(unsafe) self] tile in self.perform(tile: tile) }
    }

    /// Largest arena a context allocates (4 GiB): a typo in maxBatch must be an error, not an
    /// out-of-memory kill.
    static let maxArenaBytes = 4 << 30

    /// Bytes held by the arena: two activation buffers (ping-pong) and the im2col scratch.
    public let arenaBytes: Int

    /// Classifies `batch` crops. `opd` holds [batch, S, S] OPD values in nm (S = model.inputSize,
    /// C order); `probabilities` receives [batch, classes] softmax probabilities.
    ///
    /// Non-finite OPD (NaN from a failed unwrap) enters the network (or the features) as 0, i.e.
    /// background.
    public func classify(
        opd: UnsafeBufferPointer<Float>, batch: Int, probabilities: UnsafeMutableBufferPointer<Float>
    ) throws(ModelError) {
        guard batch >= 1, batch <= maxBatch else {
            throw ModelError("batch \(batch) is outside 1…\(maxBatch) (this context's maxBatch)")
        }
        guard opd.count >= batch * model.inputCount, let opdBase = opd.baseAddress else {
            throw ModelError("input holds \(opd.count) values; \(batch) crops of \(model.inputSize)×\(model.inputSize) need \(batch * model.inputCount)")
        }
        let classes = model.classes.count
        guard probabilities.count >= batch * classes, let out = probabilities.baseAddress else {
            throw ModelError("output holds \(probabilities.count) values; \(batch) × \(classes) classes need \(batch * classes)")
        }
        if let input = model.featureInput {
            input.standardise(opdBase, batch: batch, image: featureImage.pointer, values: featureValues.pointer, into: ping.pointer)
        } else {
            normalize(opdBase, count: batch * model.inputCount, into: ping.pointer)
        }
        var current = ping.pointer
        var spare = pong.pointer
        // By index: `for layer in layers` goes through IndexingIterator, whose unspecialised
        // (debug-build) subscript coroutine mallocs its frame on every step.
        let layers = model.layers
        for index in 0..<layers.count {
            switch layers[index] {
            case .convolution(let conv):
                convolve(conv, input: current, output: spare, batch: batch)
                swap(&current, &spare)
            case .fullyConnected(let fc):
                multiply(fc, input: current, output: spare, batch: batch)
                swap(&current, &spare)
            case .averagePool(let pool):
                average(pool, input: current, output: spare, batch: batch)
                swap(&current, &spare)
            case .channelAffine(let affine):
                scaleAndShift(affine, current, batch: batch)
            case .activation(let activation, let count):
                activation.apply(current, count: batch * count)
            }
        }
        Self.softmax(current, rows: batch, columns: classes, into: out)
    }

    /// Classifies any number of crops, `maxBatch` at a time: [n, S, S] OPD in nm → [n, classes].
    /// Allocates its result; the daemon's hot path uses the buffer-pointer form instead.
    public func classify(opd: [Float]) throws(ModelError) -> [Float] {
        let perImage = model.inputCount
        guard opd.count % perImage == 0 else {
            throw ModelError("input holds \(opd.count) values, not a whole number of \(model.inputSize)×\(model.inputSize) crops")
        }
        let n = opd.count / perImage
        let classes = model.classes.count
        var result = [Float](repeating: 0, count: n * classes)
        var start = 0
        while start < n {
            let batch = min(maxBatch, n - start)
            try opd.withUnsafeBufferPointer { (input) throws(ModelError) in
                try result.withUnsafeMutableBufferPointer { (output) throws(ModelError) in
                    try classify(
                        opd: UnsafeBufferPointer(rebasing: input[(start * perImage)...]), batch: batch,
                        probabilities: UnsafeMutableBufferPointer(rebasing: output[(start * classes)...]))
                }
            }
            start += batch
        }
        return result
    }

    /// x = clamp(opd / opd_scale_nm, −1, 1), the network input of the model format.
    private func normalize(_ opd: UnsafePointer<Float>, count: Int, into x: UnsafeMutablePointer<Float>) {
        let inverse = Float(1 / model.opdScaleNanometres)
        for i in 0..<count {
            let v = opd[i] * inverse
            x[i] = v.isNaN ? 0 : Swift.min(Swift.max(v, -1), 1)
        }
    }

    /// How a GEMM of `m` rows (pixels) and `n` columns (output channels) is shared by the
    /// team: cut along the larger dimension into tiles that members take from a shared counter
    /// until none are left. By rows, each member also runs the im2col of its tiles; by columns
    /// (the deep layers at small batches: a few pixels, hundreds of channels), the caller runs
    /// the im2col first and each tile streams its own panels of the weights. Taking tiles
    /// dynamically rather than in fixed halves keeps a member that the OS preempted (the
    /// machine is shared) from holding the whole layer back: the other one takes its tiles.
    enum Split { case rows, columns, none }

    func split(m: Int, n: Int) -> Split {
        if team.size == 1 { return .none }
        if m >= n && m >= 32 * team.size { return .rows }
        if n >= 32 * team.size { return .columns }
        return m >= 32 * team.size ? .rows : .none
    }

    /// About four tiles per member, in multiples of `granule`, at least `granule`.
    private func tileSize(_ count: Int, granule: Int) -> Int {
        let target = count / (4 * team.size)
        return max(granule, (target + granule - 1) / granule * granule)
    }

    /// One block of a convolution's GEMM, as the team shares it.
    struct GemmTask {
        var conv: Convolution
        var input: UnsafeMutablePointer<Float>
        var output: UnsafeMutablePointer<Float>
        var weights: UnsafePointer<Float>
        /// The packed weights, or nil to use OpenBLAS.
        var packed: UnsafePointer<Float>?
        var bias: UnsafePointer<Float>
        /// First output row (pixel) of the block, and its row count.
        var r0: Int
        var m: Int
        var split: Split
        /// Rows (`.rows`) or columns (`.columns`) per tile, and the number of tiles.
        var tileSize: Int
        var tiles: Int
    }

    /// Tile `tile` of ``task``, on whichever member claimed it.
    private func perform(tile: Int) {
        guard let t = task else { return }
        let n = t.conv.outC
        let lo = tile * t.tileSize
        switch t.split {
        case .rows: product(t, part: lo..<min(t.m, lo + t.tileSize), cols: 0..<n, im2col: true)
        case .columns: product(t, part: 0..<t.m, cols: lo..<min(n, lo + t.tileSize), im2col: false)
        case .none: product(t, part: 0..<t.m, cols: 0..<n, im2col: true)
        }
    }

    /// Rows `part` (relative to the block) and output columns `cols` of a convolution block:
    /// im2col (if asked), sgemm, bias and activation.
    private func product(_ t: GemmTask, part: Range<Int>, cols: Range<Int>, im2col: Bool) {
        guard !part.isEmpty, !cols.isEmpty else { return }
        let (k, n) = (t.conv.k, t.conv.outC)
        let a: UnsafePointer<Float>
        if t.conv.needsIm2Col {
            if im2col {
                t.conv.im2col(t.input, rows: (t.r0 + part.lowerBound)..<(t.r0 + part.upperBound), into: columns.pointer + part.lowerBound * k)
            }
            a = UnsafePointer(columns.pointer + part.lowerBound * k)
        } else {
            a = UnsafePointer(t.input + (t.r0 + part.lowerBound) * k)
        }
        if let packed = t.packed {
            let (code, slope) = t.conv.activation.kernelCode
            flowd_gemm_packed(
                Int32(part.count), Int32(k), a, Int32(k), packed, Int32(cols.lowerBound), Int32(cols.upperBound),
                t.bias, t.output + (t.r0 + part.lowerBound) * n, Int32(n), code, slope)
            return
        }
        let c = t.output + (t.r0 + part.lowerBound) * n + cols.lowerBound
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(part.count), Int32(cols.count), Int32(k),
            1, a, Int32(k), t.weights + cols.lowerBound, Int32(n), 0, c, Int32(n))
        t.conv.activation.applyWithBias(c, rows: part.count, columns: cols.count, rowStride: n, bias: t.bias + cols.lowerBound)
    }

    /// Convolution as GEMM: out[pixels, co] = col[pixels, k] · W[k, co], then bias and activation.
    /// Pixels of the whole batch are rows of one matrix (NHWC), processed in blocks that fit the
    /// col scratch; the team shares each block by rows or by columns (``split(m:n:)``).
    private func convolve(_ conv: Convolution, input: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        let rows = batch * conv.outH * conv.outW
        let block = conv.needsIm2Col ? max(1, columns.count / conv.k) : rows
        conv.weights.withUnsafeBufferPointer { w in
          conv.packedWeights.withUnsafeBufferPointer { packed in
            conv.bias.withUnsafeBufferPointer { b in
                var r0 = 0
                while r0 < rows {
                    let m = min(rows, r0 + block) - r0
                    let split = split(m: m, n: conv.outC)
                    let size =
                        switch split {
                        case .rows: tileSize(m, granule: 8)
                        case .columns: tileSize(conv.outC, granule: Int(FLOWD_PANEL))
                        case .none: m
                        }
                    let extent = split == .columns ? conv.outC : m
                    task = GemmTask(
                        conv: conv, input: input, output: output, weights: w.baseAddress!,
                        packed: packed.isEmpty ? nil : packed.baseAddress, bias: b.baseAddress!,
                        r0: r0, m: m, split: split, tileSize: size, tiles: split == .none ? 1 : (extent + size - 1) / size)
                    if split == .columns, conv.needsIm2Col { conv.im2col(input, rows: r0..<(r0 + m), into: columns.pointer) }
                    team.run(tiles: task!.tiles)
                    r0 += m
                }
                task = nil
            }
          }
        }
    }

    /// y[batch, out] = x[batch, in] · W[in, out], then bias and activation.
    private func multiply(_ fc: FullyConnected, input: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        fc.weights.withUnsafeBufferPointer { w in
            fc.bias.withUnsafeBufferPointer { b in
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(batch), Int32(fc.outFeatures), Int32(fc.inFeatures),
                    1, input, Int32(fc.inFeatures), w.baseAddress, Int32(fc.outFeatures), 0, output, Int32(fc.outFeatures))
                fc.activation.applyWithBias(output, rows: batch, columns: fc.outFeatures, rowStride: fc.outFeatures, bias: b.baseAddress!)
            }
        }
    }

    private func average(_ pool: AveragePool, input: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int) {
        let c = pool.channels
        let (oh, ow) = (pool.outH, pool.outW)
        let inverse = 1 / Float(pool.kernelH * pool.kernelW)
        for image in 0..<batch {
            let src = input + image * pool.inH * pool.inW * c
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let dst = output + ((image * oh + oy) * ow + ox) * c
                    dst.update(repeating: 0, count: c)
                    for ky in 0..<pool.kernelH {
                        for kx in 0..<pool.kernelW {
                            let s = src + ((oy * pool.stride + ky) * pool.inW + ox * pool.stride + kx) * c
                            for ch in 0..<c { dst[ch] += s[ch] }
                        }
                    }
                    for ch in 0..<c { dst[ch] *= inverse }
                }
            }
        }
    }

    private func scaleAndShift(_ affine: ChannelAffine, _ x: UnsafeMutablePointer<Float>, batch: Int) {
        let c = affine.scale.count
        affine.scale.withUnsafeBufferPointer { scale in
            affine.shift.withUnsafeBufferPointer { shift in
                for p in 0..<(batch * affine.count / c) {
                    let v = x + p * c
                    for ch in 0..<c { v[ch] = v[ch] * scale[ch] + shift[ch] }
                }
            }
        }
        affine.activation.apply(x, count: batch * affine.count)
    }

    /// p_j = exp(z_j − max z) / Σ_i exp(z_i − max z): the max shift keeps exp from overflowing.
    static func softmax(_ z: UnsafePointer<Float>, rows: Int, columns: Int, into p: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let zr = z + r * columns
            let pr = p + r * columns
            var top = zr[0]
            for j in 1..<max(1, columns) { top = Swift.max(top, zr[j]) }
            var sum: Float = 0
            for j in 0..<columns {
                pr[j] = expf(zr[j] - top)
                sum += pr[j]
            }
            let inverse = 1 / sum
            for j in 0..<columns { pr[j] *= inverse }
        }
    }
}
