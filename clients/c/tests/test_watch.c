/* test_watch.c: meter_watch_notifications against a real meterd: the backlog, then a
 * notification raised while the stream is open (by a second connection), a callback that stops
 * the stream (CANCEL; the connection stays usable), resuming from the cursor with nothing missed
 * or repeated, an unknown meter (NOT_FOUND), and a restart in between. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "test.h"

typedef struct collected {
    uint64_t numbers[16];
    char usage[16][32];
    size_t n;
    size_t stop_after;
    meter_client *ingester; /* when set, ingests one more event after the first notification */
} collected;

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ingest_one(meter_client *c, const char *id)
{
    meter_event e = {.event_id = id, .event_name = "api_call", .customer_id = "acme", .timestamp_ms = wall_ms()};
    meter_batch_summary summary;
    meter_error err;
    int rc = meter_ingest_batch(c, &e, 1, NULL, &summary, &err);
    CHECK(rc == METER_OK && summary.accepted == 1, "ingest %s: %s %s", id, meter_status_name(rc), err.message);
    return rc;
}

static int collect(const meter_notification *n, void *user)
{
    collected *c = user;
    if (c->n < 16) {
        c->numbers[c->n] = n->number;
        snprintf(c->usage[c->n], sizeof c->usage[c->n], "%s", n->usage);
        c->n++;
    }
    if (c->ingester && c->n == 1) {
        /* Raised while this stream is open: it must arrive on it. */
        char id[32];
        snprintf(id, sizeof id, "live-%llu", (unsigned long long)n->number);
        ingest_one(c->ingester, id);
    }
    return c->n >= c->stop_after;
}

/* AddThresholdRule is not in the public C API yet: call it through the internal mc_call. */
static int add_rule(meter_client *c, const char *value)
{
    Meterd__V1__MeterReference ref = METERD__V1__METER_REFERENCE__INIT;
    ref.kind_case = METERD__V1__METER_REFERENCE__KIND_EVENT_NAME;
    ref.event_name = (char *)"api_call";
    Meterd__V1__AddThresholdRuleRequest req = METERD__V1__ADD_THRESHOLD_RULE_REQUEST__INIT;
    req.meter = &ref;
    req.level_case = METERD__V1__ADD_THRESHOLD_RULE_REQUEST__LEVEL_VALUE;
    req.value = (char *)value;
    meter_error err;
    int rc = mc_call(c, 86, &req.base, &meterd__v1__add_threshold_rule_response__descriptor, NULL, &err);
    CHECK(rc == METER_OK, "add threshold rule %s: %s %s", value, meter_status_name(rc), err.message);
    return rc;
}

static int watch(meter_client *c, uint64_t after, meter_ref meter, collected *into, meter_error *err)
{
    return meter_watch_notifications(c, after, meter, collect, into, 20000, err);
}

void test_watch(void)
{
    test_server s = {0};
    if (test_server_start(&s) != 0) {
        CHECK(0, "meterd started (%s)", test_meterd_binary());
        test_server_cleanup(&s);
        return;
    }
    meter_error err;
    meter_client *admin = meter_connect(s.unix_addr, NULL, 10000, &err);
    meter_client *watcher = meter_connect(s.unix_addr, NULL, 10000, &err);
    CHECK(admin && watcher, "connect: %s", err.message);
    if (!admin || !watcher)
        goto done;
    meter_definition def = {.event_name = "api_call", .display_name = "API calls", .aggregation = METER_AGG_COUNT,
                            .reset = METER_RESET_CUMULATIVE};
    int rc = meter_create(admin, &def, NULL, &err);
    CHECK(rc == METER_OK, "create meter: %s %s", meter_status_name(rc), err.message);
    for (int level = 1; level <= 6; level++) {
        char value[8];
        snprintf(value, sizeof value, "%d", level);
        add_rule(admin, value);
    }
    ingest_one(admin, "e1");
    ingest_one(admin, "e2");

    /* The backlog (1, 2), then 3 raised by the callback's ingest while the stream is open. */
    collected first = {.stop_after = 3, .ingester = admin};
    rc = watch(watcher, 0, meter_by_id(NULL), &first, &err);
    CHECK(rc == METER_OK, "watch from 0: %s %s", meter_status_name(rc), err.message);
    CHECK(first.n == 3 && first.numbers[0] == 1 && first.numbers[1] == 2 && first.numbers[2] == 3,
          "numbers %zu: %llu %llu %llu", first.n, (unsigned long long)first.numbers[0],
          (unsigned long long)first.numbers[1], (unsigned long long)first.numbers[2]);
    CHECK_STR(first.usage[2], "3");
    /* The stream ended by CANCEL: the same connection still answers. */
    meter_serving serving;
    rc = meter_health(watcher, &serving, NULL, 0, &err);
    CHECK(rc == METER_OK && serving == METER_SERVING, "health after cancel: %s", meter_status_name(rc));

    /* Raised while nobody watches; resuming from 3 gets exactly 4 and 5. */
    ingest_one(admin, "e4");
    ingest_one(admin, "e5");
    collected resumed = {.stop_after = 2};
    rc = watch(watcher, 3, meter_by_name("api_call"), &resumed, &err);
    CHECK(rc == METER_OK && resumed.n == 2 && resumed.numbers[0] == 4 && resumed.numbers[1] == 5,
          "resume after 3: %s, %zu notifications", meter_status_name(rc), resumed.n);

    collected none = {.stop_after = 1};
    rc = watch(watcher, 0, meter_by_name("no_such_meter"), &none, &err);
    CHECK(rc == METER_NOT_FOUND && none.n == 0, "unknown meter: %s %s", meter_status_name(rc), err.reason);

    /* After a restart, the numbering holds: from 5, the next is 6. */
    meter_close(admin);
    meter_close(watcher);
    admin = watcher = NULL;
    CHECK(test_server_stop(&s) == 0, "meterd exit status on SIGTERM");
    if (test_server_start(&s) != 0) {
        CHECK(0, "meterd restarted");
        goto done;
    }
    admin = meter_connect(s.unix_addr, NULL, 10000, &err);
    watcher = meter_connect(s.unix_addr, NULL, 10000, &err);
    CHECK(admin && watcher, "reconnect: %s", err.message);
    if (!admin || !watcher)
        goto done;
    ingest_one(admin, "e6");
    collected after_restart = {.stop_after = 1};
    rc = watch(watcher, 5, meter_by_id(NULL), &after_restart, &err);
    CHECK(rc == METER_OK && after_restart.n == 1 && after_restart.numbers[0] == 6,
          "after restart: %s, %zu notifications", meter_status_name(rc), after_restart.n);

done:
    if (admin)
        meter_close(admin);
    if (watcher)
        meter_close(watcher);
    test_server_stop(&s);
    test_server_cleanup(&s);
}
