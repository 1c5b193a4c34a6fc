import MeterWire

/// What the wire-server core reports as it serves: answered requests (known methods only, so
/// that an unknown id never becomes a metric label) and connections opened, closed and
/// refused. meterd's `ServerMetrics` turns these into Prometheus metrics; a server without an
/// observer reports nothing.
public protocol WireServerObserver: Sendable {
    func requestAnswered(method: UInt16, status: StatusCode, nanoseconds: Int64)
    func connectionOpened()
    func connectionClosed()
    func connectionRefused()
}
