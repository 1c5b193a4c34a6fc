/* bench_ingest: ingests N events in batches of 1000 and prints events per second.
 *
 *   build/bench_ingest ADDRESS [N]      (N defaults to 100000)
 *
 * Events are `tokens_used` for 100 customers, timestamped now, with unique ids. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "meterclient.h"

#define BATCH 1000

static double now_seconds(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s ADDRESS [N]\n", argv[0]);
        return 2;
    }
    long total = argc > 2 ? atol(argv[2]) : 100000;
    meter_error err;
    meter_client *client = meter_connect(argv[1], NULL, 30000, &err);
    if (!client) {
        fprintf(stderr, "connect: %s %s: %s\n", meter_status_name(err.code), err.reason, err.message);
        return 1;
    }

    static meter_event events[BATCH];
    static meter_property props[BATCH][2];
    static char ids[BATCH][48], customers[BATCH][16];
    static meter_event_result results[BATCH];
    long run = (long)time(NULL) * 100 + getpid() % 100;
    long sent = 0, accepted = 0, other = 0;
    double start = now_seconds(CLOCK_MONOTONIC);

    while (sent < total) {
        size_t n = total - sent < BATCH ? (size_t)(total - sent) : BATCH;
        int64_t ts = (int64_t)(now_seconds(CLOCK_REALTIME) * 1000);
        for (size_t i = 0; i < n; i++) {
            long k = sent + (long)i;
            snprintf(ids[i], sizeof ids[i], "bench-%ld-%ld", run, k);
            snprintf(customers[i], sizeof customers[i], "cust-%ld", k % 100);
            props[i][0] = meter_prop_string("model", "llama3.1");
            props[i][1] = meter_prop_int("tokens", 1 + k % 1000);
            events[i] = (meter_event){.event_id = ids[i], .event_name = "tokens_used",
                                      .customer_id = customers[i], .timestamp_ms = ts,
                                      .properties = props[i], .n_properties = 2};
        }
        meter_batch_summary summary;
        if (meter_ingest_batch(client, events, n, results, &summary, &err) != METER_OK) {
            fprintf(stderr, "batch at %ld: %s %s: %s\n", sent, meter_status_name(err.code), err.reason, err.message);
            meter_close(client);
            return 1;
        }
        accepted += summary.accepted;
        other += summary.duplicates + summary.rejected;
        sent += (long)n;
    }
    double elapsed = now_seconds(CLOCK_MONOTONIC) - start;
    meter_close(client);
    printf("%ld events (%ld accepted, %ld not) in %.3f s: %.0f events/second\n", sent, accepted, other,
           elapsed, elapsed > 0 ? sent / elapsed : 0.0);
    return 0;
}
