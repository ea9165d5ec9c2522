// libFuzzer target: the TOML parser and config validation must never crash on any text.
// Built by scripts/fuzz.sh together with Sources/SteadyConfig and Sources/SteadyCore.

@_cdecl("LLVMFuzzerTestOneInput")
public func configParserFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? Config.parse(text, path: "fuzz.toml")
    return 0
}
