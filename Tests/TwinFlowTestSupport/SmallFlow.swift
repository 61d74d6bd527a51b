import Reconstruction
import Simulator

// The twin's flow that the segmentation and the tracking specifications run on.

/// A small flow: 512² frames of 0.25 µm pixels (a 128 µm field), so many cells cross quickly.
public func smallFlow(seed: UInt64, mixture: [CellClass: Double] = [.healthy: 1, .primaryCancer: 1, .metastaticCancer: 1]) throws -> DigitalTwin {
    var optics = RigOptics()
    optics.magnification = optics.cameraPixelUm / 0.25
    var flow = FlowConfiguration()
    flow.width = 512
    flow.height = 512
    flow.seed = seed
    flow.concentrationPerMicrolitre = 12000
    flow.velocityUmPerSecond = 6000  // 30 µm per frame
    flow.mixture = mixture
    return try DigitalTwin(flow: flow, optics: optics)
}

/// Reconstruction parameters that match the twin's optics (sample pixel, wavelength).
public func parameters(for twin: DigitalTwin) -> ReconstructionParameters {
    var p = ReconstructionParameters()
    p.pixelUm = twin.camera.optics.pixelUm
    p.wavelengthNm = twin.camera.optics.wavelengthNm
    return p
}
