// Every file of this target may use the shared test support (SteadyTestSupport).
@_exported import SteadyTestSupport
