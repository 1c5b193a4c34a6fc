/* ingest: sends one usage event to meterd.
 *
 *   build/ingest ADDRESS [CUSTOMER [TOKENS]]
 *
 * ADDRESS is "unix:/path.sock", a socket path, or "host:port". The event is a `tokens_used`
 * event (model llama3.1) with a fresh event id, timestamped now. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "meterclient.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s ADDRESS [CUSTOMER [TOKENS]]\n", argv[0]);
        return 2;
    }
    const char *customer = argc > 2 ? argv[2] : "cust-42";
    long long tokens = argc > 3 ? atoll(argv[3]) : 1250;

    meter_error err;
    meter_client *client = meter_connect(argv[1], NULL, 5000, &err);
    if (!client) {
        fprintf(stderr, "connect: %s %s: %s\n", meter_status_name(err.code), err.reason, err.message);
        return 1;
    }

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char event_id[64];
    snprintf(event_id, sizeof event_id, "ingest-%lld-%ld-%d", (long long)now.tv_sec, now.tv_nsec, (int)getpid());

    meter_property props[] = {
        meter_prop_string("model", "llama3.1"),
        meter_prop_int("tokens", tokens),
    };
    meter_event event = {
        .event_id = event_id,
        .event_name = "tokens_used",
        .customer_id = customer,
        .timestamp_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000,
        .properties = props,
        .n_properties = 2,
        .source = "samples/ingest",
    };
    meter_event_result result;
    int rc = meter_ingest(client, &event, &result, &err);
    meter_close(client);
    if (rc != METER_OK) {
        fprintf(stderr, "ingest: %s %s: %s\n", meter_status_name(err.code), err.reason, err.message);
        return 1;
    }
    printf("%s: %s %s%s%s\n", event_id, meter_event_status_name(result.status),
           meter_event_outcome_name(result.outcome), result.reason[0] ? " " : "", result.reason);
    return result.status == METER_EVENT_REJECTED ? 1 : 0;
}
