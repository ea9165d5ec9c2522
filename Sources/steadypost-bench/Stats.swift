/// Percentiles of a sample, in the unit given.
struct Sample {
    var values: [Double]
    init(_ values: [Double]) { self.values = values.sorted() }
    func p(_ q: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        return values[min(values.count - 1, Int(q * Double(values.count)))]
    }
    var max: Double { values.last ?? .nan }
    var count: Int { values.count }
}

func fmt(_ v: Double, _ digits: Int = 2) -> String {
    guard v.isFinite else { return "n/a" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (v * scale).rounded() / scale
    var s = "\(r)"
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    }
    return s
}
