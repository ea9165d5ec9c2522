// Every file of this target uses the shared test support (TestFailure, TempDir, ...).
@_exported import SteadyTestSupport
