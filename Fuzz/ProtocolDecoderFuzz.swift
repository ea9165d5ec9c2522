// libFuzzer target: the frame decoder and message parser must never crash on any bytes.
// Built by scripts/fuzz.sh together with Sources/SteadyProtocol and Sources/SteadyCore.

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
        }
    } catch {
        // Refusals are the expected outcome for bad input.
    }
    return 0
}
