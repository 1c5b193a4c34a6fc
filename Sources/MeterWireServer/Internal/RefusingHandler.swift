import MeterProto
import MeterWire
import NIOCore

/// Answers a refused connection (over the connection limit, or arriving during shutdown) with
/// a GOAWAY naming the reason, and closes it.
final class RefusingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = WireFrame
    let reason: String

    init(reason: String) { self.reason = reason }

    func channelActive(context: ChannelHandlerContext) {
        var message = Meterd_V1_GoAway()
        message.reason = reason
        let payload = (try? ProtobufPayload.encode(message)) ?? ByteBuffer()
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(WireFrame(type: .goAway, payload: payload))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
