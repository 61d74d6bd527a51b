/// The dashboard's files, compiled into the binary (SwiftPM `embedInCode`): the page works at a
/// rig with no internet, and what it runs is exactly what was reviewed (no CDN, no npm).
public enum DashboardAssets {
    public struct Asset: Sendable {
        public let bytes: [UInt8]
        public let contentType: String
    }

    /// By request path.
    public static let byPath: [String: Asset] = [
        "/": Asset(bytes: PackageResources.index_html, contentType: "text/html; charset=utf-8"),
        "/dashboard.js": Asset(bytes: PackageResources.dashboard_js, contentType: "text/javascript; charset=utf-8"),
        "/dashboard.css": Asset(bytes: PackageResources.dashboard_css, contentType: "text/css; charset=utf-8"),
    ]
}
