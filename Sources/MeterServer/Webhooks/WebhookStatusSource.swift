import NIOConcurrencyHelpers

/// Where the server finds the webhook dispatcher for GetWebhookStatus: meterd starts the
/// dispatcher after the engine opened, in its own service, and hands it over here; nil while
/// webhooks are off (or not started yet).
public final class WebhookStatusSource: Sendable {
    private let dispatcher = NIOLockedValueBox<WebhookDispatcher?>(nil)

    public init() {}

    public func set(_ value: WebhookDispatcher) { dispatcher.withLockedValue { $0 = value } }

    public var current: WebhookDispatcher? { dispatcher.withLockedValue { $0 } }
}
