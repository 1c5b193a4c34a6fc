/* create_meter: creates the meter guide's example meter.
 *
 *   build/create_meter ADDRESS
 *
 * tokens_used, "Tokens Used": SUM of `tokens` over events whose `model` is llama3.1 or
 * llama3.2, resetting monthly (PERIODIC, MONTHLY, default anchor). */
#include <inttypes.h>
#include <stdio.h>

#include "meterclient.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s ADDRESS\n", argv[0]);
        return 2;
    }
    meter_error err;
    meter_client *client = meter_connect(argv[1], NULL, 5000, &err);
    if (!client) {
        fprintf(stderr, "connect: %s %s: %s\n", meter_status_name(err.code), err.reason, err.message);
        return 1;
    }

    static const char *const models[] = {"llama3.1", "llama3.2"};
    meter_filter filter = {.key = "model", .values = models, .n_values = 2};
    meter_definition def = {
        .event_name = "tokens_used",
        .display_name = "Tokens Used",
        .filters = &filter,
        .n_filters = 1,
        .aggregation = METER_AGG_SUM,
        .field = "tokens",
        .reset = METER_RESET_PERIODIC,
        .period = METER_PERIOD_MONTHLY,
    };
    meter_info *meter = NULL;
    int rc = meter_create(client, &def, &meter, &err);
    meter_close(client);
    if (rc != METER_OK) {
        fprintf(stderr, "create: %s %s: %s\n", meter_status_name(err.code), err.reason, err.message);
        return 1;
    }
    printf("created %s: %s \"%s\" (created_at_ms %" PRId64 ")\n", meter->id, meter->definition.event_name,
           meter->definition.display_name, meter->created_at_ms);
    meter_info_free(meter);
    return 0;
}
