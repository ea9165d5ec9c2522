// libFuzzer target: what the adapters read from a platform must never crash them: the JSON
// parser, the classifier (status, headers and body of any response, for every platform and
// kind of request), the three rate-limit header formats, and the time formats.
// Built by scripts/fuzz.sh with Sources/SteadyCore, SteadyHTTP and SteadyPlatforms.
//
// Input: byte 0 picks the platform, byte 1 the kind of request, bytes 2-3 the status;
// then header lines ("Name: value\n") up to an empty line, then the body.

@_cdecl("LLVMFuzzerTestOneInput")
public func platformResponseFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard bytes.count >= 4 else { return 0 }
    let platform = Platform.allCases[Int(bytes[0]) % Platform.allCases.count]
    let kinds: [OperationKind] = [.create, .read, .consumingRefresh, .session]
    let kind = kinds[Int(bytes[1]) % kinds.count]
    let status = 100 + (Int(bytes[2]) << 8 | Int(bytes[3])) % 500
    let rest = bytes[4...]
    var headerPairs: [(String, String)] = []
    var bodyStart = rest.endIndex
    var lineStart = rest.startIndex
    while lineStart < rest.endIndex {
        let lineEnd = rest[lineStart...].firstIndex(of: 10) ?? rest.endIndex
        if lineEnd == lineStart {
            bodyStart = min(rest.endIndex, lineEnd + 1)
            break
        }
        let line = String(decoding: rest[lineStart..<lineEnd], as: UTF8.self)
        if let colon = line.firstIndex(of: ":") {
            headerPairs.append((String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " })))
        }
        lineStart = min(rest.endIndex, lineEnd + 1)
    }
    let body = Array(rest[bodyStart...])
    let headers = HTTPHeaders(headerPairs)
    let now: Int64 = 1_795_000_000_000
    if let json = try? JSON.parse(body) {
        // Whatever parses must serialize and parse back to the same value.
        let again = try? JSON.parse(json.bytes)
        precondition(again == json, "JSON round trip changed the value")
    }
    _ = Classifier.classify(status: status, headers: headers, body: body, platform: platform, operation: kind, nowMs: now)
    if let info = RateLimitInfo.parse(headers, nowMs: now) {
        _ = info.resumeAtMs(nowMs: now, fallbackMs: 60_000)
    }
    let text = String(decoding: body, as: UTF8.self)
    _ = HTTPTime.parseISO8601(text)
    _ = HTTPTime.parseHTTPDate(text)
    _ = TextLength.measure(text, for: platform)
    _ = ContentNormalizer.hash(text)
    _ = HTMLText.plainText(text)
    return 0
}
