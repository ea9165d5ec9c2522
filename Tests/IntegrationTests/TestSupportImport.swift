// Every file of this target uses the shared harness (SimulatorProcess, TempDir, waitFor, …).
@_exported import SteadyTestSupport
