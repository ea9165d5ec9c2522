// libFuzzer target: the frame decoder, the message parser and the JSON bodies' coder must
// never crash on any bytes. Built by scripts/fuzz.sh together with Sources/SteadyProtocol,
// Sources/SteadyJSON and Sources/SteadyCore.

@_cdecl("LLVMFuzzerTestOneInput")
public func protocolDecoderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Feed in two pieces split at a data-chosen point, as a socket would.
    let split = size > 0 ? Int(bytes[0]) % (size + 1) : 0
    var decoder = FrameDecoder()
    decoder.feed(bytes[0..<split])
    do {
        while let frame = try decoder.next() { _ = try? Message(frame) }
        decoder.feed(bytes[split...])
        while let frame = try decoder.next() {
            if let message = try? Message(frame) {
                // Whatever decodes must encode again.
                _ = try? message.encoded(correlation: frame.correlation, deadline: frame.deadline)
            }
            // Every payload as each control body the supervisor and the CLI read; whatever
            // decodes must encode again.
            if let report = try? JSONCoding.decode(StatusReport.self, frame.payload, type: "status") {
                _ = try? JSONCoding.encode(report)
            }
            _ = try? JSONCoding.decode(WaitReadyRequest.self, frame.payload, type: "wait")
            _ = try? JSONCoding.decode(FaultRequest.self, frame.payload, type: "fault")
            _ = try? JSON.parseStrict(frame.payload)
        }
    } catch {
        // Refusals are the expected outcome for bad input.
    }
    largeFrameInPieces(bytes)
    return 0
}

/// A frame near or over the SEQPACKET send buffer (212,992 B), made from the input, sent as
/// the workers send it (`Frame.socketPiece` messages) and cut at a data-chosen offset as
/// well: it must come out whole and equal, or (over `Frame.maxLength`) be refused at encode.
func largeFrameInPieces(_ bytes: [UInt8]) {
    // One input in 64 (each costs a 200 KiB frame; the decoder above gets the rest).
    guard bytes.count >= 3, bytes[0] & 0x3F == 0x2A else { return }
    // 200 KiB to 264 KiB around the socket buffer, or (rarely) just over the frame bound.
    let target = bytes[1] == 0xFF ? Frame.maxLength + 1 : 200 * 1024 + Int(bytes[1]) * 256
    var body = [UInt8]()
    body.reserveCapacity(target)
    while body.count < target { body.append(contentsOf: bytes.prefix(target - body.count)) }
    let message = Message.response(status: "ok", body: body)
    guard let encoded = try? message.encoded(correlation: 7) else {
        precondition(target > Frame.maxLength - Frame.headerLength, "a frame within the bound was refused")
        return
    }
    var decoder = FrameDecoder()
    let cut = Int(bytes[2]) * 997 % encoded.count
    var got: [Frame] = []
    var offset = 0
    while offset < encoded.count {
        let end = min(offset + Frame.socketPiece, encoded.count, offset < cut && cut < offset + Frame.socketPiece ? cut : .max)
        decoder.feed(encoded[offset..<end])
        offset = end
        while let frame = try? decoder.next() { got.append(frame) }
    }
    precondition(got.count == 1 && got[0].correlation == 7, "a frame sent in pieces did not come out once")
    guard case .response(_, let out)? = try? Message(got[0]) else { preconditionFailure("the frame did not decode") }
    precondition(out == body, "a frame sent in pieces came out different")
}
