/* notifications.c: the WatchNotifications server stream (docs/protocol.md, "Server streams"). */
#include <string.h>

#include "internal.h"

/* Carries the caller's callback through mc_stream_call. */
typedef struct watch_state {
    meter_notification_callback callback;
    void *user;
    int decode_failed;
} watch_state;

static int on_notification(const uint8_t *payload, size_t length, void *user)
{
    watch_state *state = user;
    Meterd__V1__Notification *n = meterd__v1__notification__unpack(NULL, length, payload);
    if (!n) {
        state->decode_failed = 1;
        return 1; /* stop: cancel the stream */
    }
    meter_notification out = {
        .number = n->number,
        .period_start_ms = n->period_start_ms,
        .period_end_ms = n->period_end_ms,
        .sequence = n->sequence,
        .at_ms = n->at_ms,
    };
    mc_copy_text(out.rule_id, sizeof out.rule_id, n->rule_id);
    mc_copy_text(out.meter_id, sizeof out.meter_id, n->meter_id);
    mc_copy_text(out.customer_id, sizeof out.customer_id, n->customer_id);
    mc_copy_text(out.threshold, sizeof out.threshold, n->threshold);
    mc_copy_text(out.usage, sizeof out.usage, n->usage);
    int stop = state->callback(&out, state->user);
    meterd__v1__notification__free_unpacked(n, NULL);
    return stop;
}

int meter_watch_notifications(meter_client *c, uint64_t after_number, meter_ref meter,
                              meter_notification_callback callback, void *user, int max_wait_ms,
                              meter_error *error)
{
    if (!callback)
        return mc_fail(error, METER_INVALID_ARGUMENT, "", "callback is NULL");
    mc_arena a = {0};
    Meterd__V1__WatchNotificationsRequest req = METERD__V1__WATCH_NOTIFICATIONS_REQUEST__INIT;
    req.after_number = after_number;
    if (meter.id || meter.event_name)
        req.meter = mc_ref_to_pb(&a, meter);
    if (a.failed) {
        mc_arena_free(&a);
        return mc_fail(error, METER_INTERNAL, "", "out of memory");
    }
    watch_state state = {callback, user, 0};
    int rc = mc_stream_call(c, MC_METHOD_WATCH_NOTIFICATIONS, &req.base, on_notification, &state, max_wait_ms, error);
    mc_arena_free(&a);
    if (rc == 0 && state.decode_failed)
        return mc_fail(error, METER_INTERNAL, "PROTOCOL", "malformed Notification in the stream");
    return rc;
}
