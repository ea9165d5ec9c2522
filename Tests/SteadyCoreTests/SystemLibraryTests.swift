import Testing
import CCurl
import CSQLite
import CSystemd
import Glibc
import SteadyCore

/// The C libraries the project builds on, linked through their system-library targets, and
/// libsystemd as the reference our own sd_notify must match byte for byte.
struct SystemLibraryTests {
    @Test("libsqlite3 and libcurl link and report the versions the README names")
    func versions() {
        let sqlite = String(cString: sqlite3_libversion())
        #expect(sqlite.hasPrefix("3."))
        #expect(sqlite3_threadsafe() != 0)
        let curl = String(cString: curl_version())
        #expect(curl.contains("libcurl/"))
    }
}
