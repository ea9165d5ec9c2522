// The JSON value lives in SteadyJSON (the protocol layer uses it too); adapters and their
// callers keep reading it as part of SteadyPlatforms.
@_exported import SteadyJSON
