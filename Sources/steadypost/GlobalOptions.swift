/// `steadypost --config FILE status`, as systemctl, git and kubectl take it: the connection
/// options (`--socket`, `--config`, `--timeout`, `--json`) may come before the subcommand.
/// ArgumentParser reads them only after it, so they are moved there before parsing.
enum GlobalOptions {
    static let valued: Set<String> = ["--socket", "--config", "--timeout"]
    static let flags: Set<String> = ["--json"]
    /// Subcommands whose own subcommand follows them (`token create`, `debug call`).
    static let groups: Set<String> = ["token", "debug"]

    static func reorder(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if flags.contains(a) {
                leading.append(a)
                i += 1
            } else if valued.contains(a), i + 1 < arguments.count {
                leading += [a, arguments[i + 1]]
                i += 2
            } else if let eq = a.firstIndex(of: "="), valued.contains(String(a[..<eq])) {
                leading.append(a)
                i += 1
            } else {
                break
            }
        }
        // Nothing moved, or no subcommand to move it behind: ArgumentParser says what is wrong.
        guard !leading.isEmpty, i < arguments.count, !arguments[i].hasPrefix("-") else { return arguments }
        var path = [arguments[i]]
        i += 1
        if groups.contains(path[0]), i < arguments.count, !arguments[i].hasPrefix("-") {
            path.append(arguments[i])
            i += 1
        }
        return path + leading + arguments[i...]
    }
}
