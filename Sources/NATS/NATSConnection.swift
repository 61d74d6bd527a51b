import CNATS
import Foundation
import Synchronization

/// A connection to a NATS server that never gives up, with its JetStream context.
///
/// Made for a daemon that must go on when NATS is away: the first connect is retried in the
/// background (an unreachable server is not an error at start-up), every lost connection is
/// reconnected forever (every 0.5 s), and callers check ``isConnected`` before publishing rather
/// than letting the library buffer for them — the daemon keeps its own bounded outbox and
/// retries with message ids, which JetStream de-duplicates.
///
/// The calls are thread-safe as the C client's are; ``publish(_:timeoutMilliseconds:)`` is
/// meant for one thread at a time (its acknowledgment count is per connection).
public final class NATSConnection: @unchecked Sendable {
    /// One message for a JetStream stream: its subject, its id (the stream drops a second
    /// message with the same id within its duplicate window) and its payload.
    public struct Message: Sendable {
        public var subject: String
        public var id: String
        public var payload: [UInt8]

        public init(subject: String, id: String, payload: [UInt8]) {
            self.subject = subject
            self.id = id
            self.payload = payload
        }
    }

    /// The stored acknowledgments of the asynchronous publishes in flight, counted by the C
    /// client's callback.
    private final class Acknowledgments: Sendable {
        let stored = Atomic<Int>(0)
    }

    private let connection: OpaquePointer
    private let jetStream: OpaquePointer
    private let acknowledgments = Acknowledgments()

    /// Connects (in the background if the server is not reachable yet) to `url`
    /// (`nats://host:port`, `tls://…`, or several, comma-separated).
    /// - Parameters:
    ///   - name: the client name the server shows (`nats server report connections`).
    ///   - credentialsFile: a `.creds` file (user JWT and seed), or nil.
    ///   - trustedCAFile: PEM certificates of the authorities that may sign the server's TLS
    ///     certificate (a lab's private CA), or nil: the system's. Setting it asks for TLS.
    ///   - requestTimeoutMilliseconds: how long JetStream API calls (stream info, key-value
    ///     puts) wait for the server.
    public init(
        url: String, name: String, credentialsFile: String? = nil, trustedCAFile: String? = nil,
        requestTimeoutMilliseconds: Int64 = 2000
    ) throws(NATSError) {
        var options: OpaquePointer?
        guard natsOptions_Create(&options) == NATS_OK, let options else { throw NATSError("cannot create NATS options") }
        defer { natsOptions_Destroy(options) }
        var status = natsOptions_SetURL(options, url)
        guard status == NATS_OK else { throw NATSError("NATS URL \(url)", status) }
        natsOptions_SetName(options, name)
        // With a callback (even one that does nothing: ``isConnected`` is polled) a first connect
        // that fails goes on in the background; without one, it would block until it succeeds.
        natsOptions_SetRetryOnFailedConnect(options, true, { _, _ in }, nil)
        natsOptions_SetMaxReconnect(options, -1)
        natsOptions_SetReconnectWait(options, 500)
        natsOptions_SetTimeout(options, requestTimeoutMilliseconds)
        if let credentialsFile {
            status = natsOptions_SetUserCredentialsFromFiles(options, credentialsFile, nil)
            guard status == NATS_OK else { throw NATSError("NATS credentials \(credentialsFile)", status) }
        }
        if let trustedCAFile {
            natsOptions_SetSecure(options, true)
            status = natsOptions_LoadCATrustedCertificates(options, trustedCAFile)
            guard status == NATS_OK else { throw NATSError("NATS TLS CA file \(trustedCAFile)", status) }
        }
        var made: OpaquePointer?
        status = natsConnection_Connect(&made, options)
        // With retry on, NATS_NOT_YET_CONNECTED means: connecting in the background.
        guard status == NATS_OK || status == NATS_NOT_YET_CONNECTED, let made else {
            throw NATSError("cannot connect to NATS at \(url)", status)
        }
        var jsOptions = jsOptions()
        jsOptions_Init(&jsOptions)
        jsOptions.Wait = requestTimeoutMilliseconds
        jsOptions.PublishAsync.AckHandler = { _, message, ack, _, closure in
            let counts = Unmanaged<Acknowledgments>.fromOpaque(closure!).takeUnretainedValue()
            if ack != nil { counts.stored.add(1, ordering: .relaxed) }
            natsMsg_Destroy(message)
        }
        jsOptions.PublishAsync.AckHandlerClosure = Unmanaged.passUnretained(acknowledgments).toOpaque()
        var context: OpaquePointer?
        status = natsConnection_JetStream(&context, made, &jsOptions)
        guard status == NATS_OK, let context else {
            natsConnection_Destroy(made)
            throw NATSError("cannot make a JetStream context", status)
        }
        connection = made
        jetStream = context
    }

    deinit {
        jsCtx_Destroy(jetStream)
        natsConnection_Close(connection)
        natsConnection_Destroy(connection)
    }

    /// True while connected (not while connecting, reconnecting or closed).
    public var isConnected: Bool { natsConnection_Status(connection) == NATS_CONN_STATUS_CONNECTED }

    /// Makes sure the stream `name` exists; creates it with these limits if not. An existing
    /// stream is used as it is (its limits are the operator's).
    /// - Parameters:
    ///   - subjects: the subjects it stores (wildcards allowed).
    ///   - maxAgeSeconds, maxBytes: its limits (older or excess messages are discarded).
    ///   - duplicateWindowSeconds: how long it remembers message ids.
    public func ensureStream(
        _ name: String, subjects: [String], maxAgeSeconds: Double, maxBytes: Int64, duplicateWindowSeconds: Double
    ) throws(NATSError) {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var code = jsErrCode(rawValue: 0)
        var status = js_GetStreamInfo(&info, jetStream, name, nil, &code)
        jsStreamInfo_Destroy(info)
        if status == NATS_OK { return }
        guard code == JSStreamNotFoundErr || status == NATS_NOT_FOUND else {
            throw NATSError("cannot look up the JetStream stream \(name)", status, code)
        }
        var config = jsStreamConfig()
        jsStreamConfig_Init(&config)
        config.Storage = js_FileStorage
        config.MaxAge = Int64(maxAgeSeconds * 1e9)
        config.MaxBytes = maxBytes
        config.Duplicates = Int64(duplicateWindowSeconds * 1e9)
        status = name.withCString { cName in
            withCStrings(subjects) { cSubjects in
                config.Name = cName
                config.Subjects = cSubjects.baseAddress
                config.SubjectsLen = Int32(cSubjects.count)
                return js_AddStream(&info, jetStream, &config, nil, &code)
            }
        }
        jsStreamInfo_Destroy(info)
        guard status == NATS_OK else { throw NATSError("cannot create the JetStream stream \(name)", status, code) }
    }

    /// Publishes `messages` asynchronously and waits up to `timeoutMilliseconds` for the
    /// stream to acknowledge them. Returns true only when every one was stored (a duplicate
    /// id counts as stored: the stream had it already); otherwise the caller sends them again.
    public func publish(_ messages: [Message], timeoutMilliseconds: Int64) -> Bool {
        acknowledgments.stored.store(0, ordering: .relaxed)
        var sent = 0
        for message in messages {
            var options = jsPubOptions()
            jsPubOptions_Init(&options)
            let status = message.id.withCString { id in
                options.MsgId = id
                return message.payload.withUnsafeBytes {
                    js_PublishAsync(jetStream, message.subject, $0.baseAddress, Int32($0.count), &options)
                }
            }
            guard status == NATS_OK else { break }
            sent += 1
        }
        var wait = jsPubOptions()
        jsPubOptions_Init(&wait)
        wait.MaxWait = timeoutMilliseconds
        let complete = js_PublishAsyncComplete(jetStream, &wait)
        if complete != NATS_OK {
            // Take back what is still unacknowledged: it is sent again (same ids) next time.
            var pending = natsMsgList()
            if js_PublishAsyncGetPendingList(&pending, jetStream) == NATS_OK { natsMsgList_Destroy(&pending) }
        }
        return sent == messages.count && complete == NATS_OK
            && acknowledgments.stored.load(ordering: .relaxed) == messages.count
    }

    /// Puts `value` under `key` in the key-value bucket `bucket`, which is created (with one
    /// value of history per key) if it does not exist.
    public func put(_ value: [UInt8], key: String, bucket: String) throws(NATSError) {
        let store = try openBucket(bucket, create: true)!
        defer { kvStore_Destroy(store) }
        var revision: UInt64 = 0
        let status = value.withUnsafeBytes { kvStore_Put(&revision, store, key, $0.baseAddress, Int32($0.count)) }
        guard status == NATS_OK else { throw NATSError("cannot put \(key) into \(bucket)", status) }
    }

    /// The latest value of `key` in the bucket `bucket`; nil when there is none (no such key or
    /// bucket).
    public func value(key: String, bucket: String) throws(NATSError) -> [UInt8]? {
        guard let store = try openBucket(bucket, create: false) else { return nil }
        defer { kvStore_Destroy(store) }
        var entry: OpaquePointer?
        let status = kvStore_Get(&entry, store, key)
        if status == NATS_NOT_FOUND { return nil }
        guard status == NATS_OK, let entry else { throw NATSError("cannot get \(key) from \(bucket)", status) }
        defer { kvEntry_Destroy(entry) }
        return Array(UnsafeRawBufferPointer(start: kvEntry_Value(entry), count: Int(kvEntry_ValueLen(entry))))
    }

    /// The payload of the last message on `subject` in the stream `stream`; nil when there is
    /// none.
    public func lastMessage(stream: String, subject: String) throws(NATSError) -> [UInt8]? {
        var message: OpaquePointer?
        var code = jsErrCode(rawValue: 0)
        let status = js_GetLastMsg(&message, jetStream, stream, subject, nil, &code)
        if status == NATS_NOT_FOUND { return nil }
        guard status == NATS_OK, let message else {
            throw NATSError("cannot read \(subject) from the stream \(stream)", status, code)
        }
        defer { natsMsg_Destroy(message) }
        return Array(UnsafeRawBufferPointer(start: natsMsg_GetData(message), count: Int(natsMsg_GetDataLength(message))))
    }

    /// Every key of the bucket `bucket` with its latest value; empty when there is no such
    /// bucket.
    public func values(bucket: String) throws(NATSError) -> [String: [UInt8]] {
        guard let store = try openBucket(bucket, create: false) else { return [:] }
        defer { kvStore_Destroy(store) }
        var keys = kvKeysList()
        var status = kvStore_Keys(&keys, store, nil)
        if status == NATS_NOT_FOUND { return [:] }  // an empty bucket
        guard status == NATS_OK else { throw NATSError("cannot list the keys of \(bucket)", status) }
        defer { kvKeysList_Destroy(&keys) }
        var values: [String: [UInt8]] = [:]
        for i in 0..<Int(keys.Count) {
            guard let cKey = keys.Keys[i] else { continue }
            var entry: OpaquePointer?
            status = kvStore_Get(&entry, store, cKey)
            guard status == NATS_OK, let entry else { continue }  // deleted meanwhile
            defer { kvEntry_Destroy(entry) }
            let bytes = UnsafeRawBufferPointer(start: kvEntry_Value(entry), count: Int(kvEntry_ValueLen(entry)))
            values[String(cString: cKey)] = Array(bytes)
        }
        return values
    }

    /// The bucket `name`, created (one value of history per key) if missing and `create`;
    /// nil when missing and not `create`.
    private func openBucket(_ name: String, create: Bool) throws(NATSError) -> OpaquePointer? {
        var store: OpaquePointer?
        var status = js_KeyValue(&store, jetStream, name)
        if status == NATS_NOT_FOUND, !create { return nil }
        if status != NATS_OK, create {
            var config = kvConfig()
            kvConfig_Init(&config)
            config.History = 1
            status = name.withCString { cName in
                config.Bucket = cName
                return js_CreateKeyValue(&store, jetStream, &config)
            }
        }
        guard status == NATS_OK, let store else { throw NATSError("cannot open the key-value bucket \(name)", status) }
        return store
    }
}

/// Runs `body` with the C strings of `strings`, valid during the call.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafeMutableBufferPointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    var pointers = copies.map { UnsafePointer($0) }
    return pointers.withUnsafeMutableBufferPointer { body($0) }
}
