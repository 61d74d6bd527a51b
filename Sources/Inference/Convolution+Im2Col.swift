import Foundation

extension Convolution {
    /// Writes rows `rows` of the im2col matrix of an NHWC batch: row p (an output pixel
    /// (image, oy, ox)) holds the kh × kw × inC input window under the kernel, zeros where it
    /// hangs over the padding. With channels innermost, each kernel row is one contiguous run
    /// of kw · inC floats in the input, so the copy is a few memcpy calls per pixel.
    func im2col(_ input: UnsafePointer<Float>, rows: Range<Int>, into col: UnsafeMutablePointer<Float>) {
        let pixels = outH * outW
        let run = kernelW * inC
        let runBytes = run * MemoryLayout<Float>.stride
        let channelBytes = inC * MemoryLayout<Float>.stride
        var dst = col
        for r in rows {
            let image = r / pixels
            let oy = (r % pixels) / outW
            let ox = r % outW
            let x0 = ox * stride - padding
            let inside = x0 >= 0 && x0 + kernelW <= inW
            for ky in 0..<kernelH {
                let y = oy * stride - padding + ky
                if y < 0 || y >= inH {
                    memset(dst, 0, runBytes)
                } else {
                    let rowStart = input + ((image * inH + y) * inW) * inC
                    if inside {
                        memcpy(dst, rowStart + x0 * inC, runBytes)
                    } else {
                        for kx in 0..<kernelW {
                            let x = x0 + kx
                            if x < 0 || x >= inW {
                                memset(dst + kx * inC, 0, channelBytes)
                            } else {
                                memcpy(dst + kx * inC, rowStart + x * inC, channelBytes)
                            }
                        }
                    }
                }
                dst += run
            }
        }
    }
}
