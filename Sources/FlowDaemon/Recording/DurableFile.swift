import Foundation
import Glibc

/// Creating directories and replacing small files so that a crash leaves either the old or the
/// new content, never a torn file: write a temporary file next to it, fsync, rename over it,
/// fsync the directory (rename(2) is atomic; the syncs make it durable).
enum DurableFile {
    struct Failure: Error, CustomStringConvertible {
        let description: String

        init(_ operation: String, _ path: String, _ code: Int32) {
            description = "\(operation) \(path): \(String(cString: strerror(code)))"
        }
    }

    /// Replaces `path` with `bytes`.
    static func replace(_ path: String, with bytes: [UInt8]) throws(Failure) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw Failure("create", temporary, errno) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(fd)
                throw Failure("write", temporary, code)
            }
            done += n
        }
        guard fsync(fd) == 0 else {
            let code = errno
            close(fd)
            throw Failure("fsync", temporary, code)
        }
        close(fd)
        guard rename(temporary, path) == 0 else { throw Failure("rename to", path, errno) }
        try syncDirectory(of: path)
    }

    /// Creates `path` and any missing parents (mode 0750); an existing directory is fine.
    static func makeDirectories(_ path: String) throws(Failure) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o750) != 0 && errno != EEXIST { throw Failure("create directory", prefix, errno) }
        }
    }

    /// Creates the directory `path`; false if it exists already.
    static func makeNewDirectory(_ path: String) throws(Failure) -> Bool {
        if mkdir(path, 0o750) == 0 {
            try syncDirectory(of: path)
            return true
        }
        if errno == EEXIST { return false }
        throw Failure("create directory", path, errno)
    }

    /// Makes a new entry of the directory holding `path` durable.
    private static func syncDirectory(of path: String) throws(Failure) {
        let directory = (path as NSString).deletingLastPathComponent
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure("open directory", directory, errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure("fsync directory", directory, errno) }
    }
}
