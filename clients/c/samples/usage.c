/*
 * usage: prints a meter's current usage (billing period, or running total) for one customer.
 *
 *   build/usage ADDRESS METER [CUSTOMER]
 *
 * METER is an id (mtr_...) or an event name. Prints the exact decimal value, or "none".
 */
#include <stdio.h>
#include <string.h>

#include "meterclient.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s ADDRESS METER [CUSTOMER]\n", argv[0]);
        return 2;
    }
    meter_error err;
    meter_client *client = meter_connect(argv[1], NULL, 5000, &err);
    if (!client) {
        fprintf(stderr, "connect: %s %s: %s\n", meter_status_name(err.code), err.reason, err.message);
        return 1;
    }
    meter_usage *usage = NULL;
    meter_ref meter = strncmp(argv[2], "mtr_", 4) == 0 ? meter_by_id(argv[2]) : meter_by_name(argv[2]);
    int rc = meter_current_usage(client, meter, argc > 3 ? argv[3] : "", 0, &usage, &err);
    meter_close(client);
    if (rc != METER_OK) {
        fprintf(stderr, "usage: %s %s: %s\n", meter_status_name(err.code), err.reason, err.message);
        return 1;
    }
    printf("%s\n", usage->n_rows > 0 && usage->rows[0].has_value ? usage->rows[0].value : "none");
    meter_usage_free(usage);
    return 0;
}
