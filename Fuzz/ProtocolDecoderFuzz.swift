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
        }
    } catch {
        // Refusals are the expected outcome for bad input.
    }
    return 0
}
