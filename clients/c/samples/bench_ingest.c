/* bench_ingest: ingests N events and prints events per second (closed loop: each connection
 * sends its next batch when the previous one is acknowledged).
 *
 *   build/bench_ingest ADDRESS [N [BATCH [CONNECTIONS]]]
 *
 * N defaults to 100000, BATCH to 1000, CONNECTIONS to 1 (one thread each). Events are
 * `tokens_used` for 100 customers, timestamped now, with unique ids. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "meterclient.h"

#define MAX_BATCH 1000

struct worker {
    const char *address;
    long first, count, batch;
    long run;
    long accepted, other;
    int failed;
};

static double now_seconds(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *ingest(void *argument)
{
    struct worker *w = argument;
    meter_error err;
    meter_client *client = meter_connect(w->address, NULL, 30000, &err);
    if (!client) {
        fprintf(stderr, "connect: %s %s: %s\n", meter_status_name(err.code), err.reason, err.message);
        w->failed = 1;
        return NULL;
    }
    meter_event *events = calloc((size_t)w->batch, sizeof *events);
    meter_property (*props)[2] = calloc((size_t)w->batch, sizeof *props);
    char (*ids)[48] = calloc((size_t)w->batch, sizeof *ids);
    char (*customers)[16] = calloc((size_t)w->batch, sizeof *customers);
    meter_event_result *results = calloc((size_t)w->batch, sizeof *results);
    long sent = 0;
    while (sent < w->count && !w->failed) {
        size_t n = w->count - sent < w->batch ? (size_t)(w->count - sent) : (size_t)w->batch;
        int64_t ts = (int64_t)(now_seconds(CLOCK_REALTIME) * 1000);
        for (size_t i = 0; i < n; i++) {
            long k = w->first + sent + (long)i;
            snprintf(ids[i], sizeof ids[i], "bench-%ld-%ld", w->run, k);
            snprintf(customers[i], sizeof customers[i], "cust-%ld", k % 100);
            props[i][0] = meter_prop_string("model", "llama3.1");
            props[i][1] = meter_prop_int("tokens", 1 + k % 1000);
            events[i] = (meter_event){.event_id = ids[i], .event_name = "tokens_used",
                                      .customer_id = customers[i], .timestamp_ms = ts,
                                      .properties = props[i], .n_properties = 2};
        }
        meter_batch_summary summary;
        if (meter_ingest_batch(client, events, n, results, &summary, &err) != METER_OK) {
            fprintf(stderr, "batch at %ld: %s %s: %s\n", w->first + sent, meter_status_name(err.code), err.reason, err.message);
            w->failed = 1;
            break;
        }
        w->accepted += summary.accepted;
        w->other += summary.duplicates + summary.rejected;
        sent += (long)n;
    }
    meter_close(client);
    free(events); free(props); free(ids); free(customers); free(results);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s ADDRESS [N [BATCH [CONNECTIONS]]]\n", argv[0]);
        return 2;
    }
    long total = argc > 2 ? atol(argv[2]) : 100000;
    long batch = argc > 3 ? atol(argv[3]) : MAX_BATCH;
    long connections = argc > 4 ? atol(argv[4]) : 1;
    if (total < 1 || batch < 1 || batch > MAX_BATCH || connections < 1 || connections > 256) {
        fprintf(stderr, "N must be >= 1, BATCH 1-%d, CONNECTIONS 1-256\n", MAX_BATCH);
        return 2;
    }
    struct worker *workers = calloc((size_t)connections, sizeof *workers);
    pthread_t *threads = calloc((size_t)connections, sizeof *threads);
    long run = (long)time(NULL) * 100 + getpid() % 100;
    long per = total / connections;
    double start = now_seconds(CLOCK_MONOTONIC);
    for (long c = 0; c < connections; c++) {
        workers[c] = (struct worker){.address = argv[1], .first = c * per, .batch = batch, .run = run,
                                     .count = c == connections - 1 ? total - c * per : per};
        pthread_create(&threads[c], NULL, ingest, &workers[c]);
    }
    long accepted = 0, other = 0;
    int failed = 0;
    for (long c = 0; c < connections; c++) {
        pthread_join(threads[c], NULL);
        accepted += workers[c].accepted;
        other += workers[c].other;
        failed |= workers[c].failed;
    }
    double elapsed = now_seconds(CLOCK_MONOTONIC) - start;
    printf("%ld events in batches of %ld over %ld connection(s) (%ld accepted, %ld not) in %.3f s: %.0f events/second\n",
           total, batch, connections, accepted, other, elapsed, elapsed > 0 ? (accepted + other) / elapsed : 0.0);
    free(workers); free(threads);
    return failed ? 1 : 0;
}
