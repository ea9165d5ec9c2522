import Glibc
import Logging

/// Test-only misbehaviour, reached through the control socket's `fault` method (refused
/// unless `daemon.allow_fault_injection` is on). Each proves a supervision mechanism.
public enum FaultInjection {
    public static func trigger(_ kind: String, logger: Logger) {
        logger.warning("fault injection: \(kind)")
        switch kind {
        case "hang":
            // The loop stops: no heartbeats, signals stay blocked in the signalfd.
            while true { _ = sleep(3600) }
        case "crash":
            abort()
        case "exit":
            exit(3)
        case "alloc":
            // Allocate and touch memory until the bound stops us.
            var blocks: [UnsafeMutableRawPointer] = []
            while true {
                guard let block = malloc(16 << 20) else {
                    logger.error("fault injection: allocation refused at \(blocks.count * 16) MiB; aborting")
                    abort()
                }
                memset(block, 0xA5, 16 << 20)
                blocks.append(block)
            }
        default:
            logger.error("unknown fault '\(kind)'; ignored")
        }
    }
}
