/* test_live.c: the library against a real meterd, over a Unix socket and over TCP: create the
 * guide meter, ingest a batch (with a duplicate and an invalid event), query exact usage,
 * restart the server (SIGTERM) and retry the same batch: every event comes back DUPLICATE (or
 * REJECTED again) and usage is unchanged. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meterclient.h"
#include "test.h"

#define N_EVENTS 7

static int timeout_ms(void)
{
    const char *env = getenv("METERD_TEST_TIMEOUT_MS");
    return env && atoi(env) > 0 ? atoi(env) : 10000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static meter_client *connect_or_report(const char *address, const char *tenant, const char *api_key)
{
    meter_error err;
    meter_client *c = meter_connect_with_api_key(address, tenant, api_key, timeout_ms(), &err);
    CHECK(c != NULL, "connect %s: %s %s: %s", address, meter_status_name(err.code), err.reason, err.message);
    return c;
}

static void create_guide_meter(meter_client *c)
{
    static const char *const models[] = {"llama3.1", "llama3.2"};
    meter_filter filter = {"model", models, 2};
    meter_definition def = {.event_name = "tokens_used", .display_name = "Tokens Used", .filters = &filter,
                            .n_filters = 1, .aggregation = METER_AGG_SUM, .field = "tokens",
                            .reset = METER_RESET_PERIODIC, .period = METER_PERIOD_MONTHLY};
    meter_error err;
    meter_info *m = NULL;
    int rc = meter_create(c, &def, &m, &err);
    CHECK(rc == METER_OK, "create: %s %s: %s", meter_status_name(rc), err.reason, err.message);
    if (m) {
        CHECK(strncmp(m->id, "mtr_", 4) == 0, "id %s", m->id);
        CHECK_STR(m->definition.event_name, "tokens_used");
        CHECK_STR(m->definition.display_name, "Tokens Used");
        CHECK(m->definition.n_filters == 1 && m->definition.filters[0].n_values == 2, "filters round trip");
        CHECK(m->definition.aggregation == METER_AGG_SUM && m->definition.reset == METER_RESET_PERIODIC &&
                  m->definition.period == METER_PERIOD_MONTHLY && m->state == METER_STATE_ACTIVE,
              "definition and state");
        meter_info_free(m);
    }

    /* Again: ALREADY_EXISTS with the rejection reason, and the connection stays usable. */
    rc = meter_create(c, &def, NULL, &err);
    CHECK(rc == METER_ALREADY_EXISTS && err.code == METER_ALREADY_EXISTS, "second create: %s", meter_status_name(rc));
    CHECK_STR(err.reason, "METER_ALREADY_EXISTS");
    CHECK(strstr(err.message, "tokens_used") != NULL, "message: %s", err.message);
    CHECK(meter_is_connected(c), "still connected after a request error");

    /* An invalid definition: INVALID_ARGUMENT with a reason. */
    meter_definition bad = {.event_name = "bad_meter", .display_name = "Bad", .aggregation = METER_AGG_COUNT,
                            .field = "tokens", .reset = METER_RESET_CUMULATIVE};
    rc = meter_create(c, &bad, NULL, &err);
    CHECK(rc == METER_INVALID_ARGUMENT && err.reason[0], "invalid definition: %s %s", meter_status_name(rc), err.reason);
}

static void check_meter_admin(meter_client *c)
{
    meter_error err;
    meter_info *m = NULL;
    int rc = meter_get(c, meter_by_name("tokens_used"), &m, &err);
    CHECK(rc == METER_OK && m, "get by name: %s %s", meter_status_name(rc), err.message);
    if (m) {
        meter_info *by_id = NULL;
        rc = meter_get(c, meter_by_id(m->id), &by_id, &err);
        CHECK(rc == METER_OK && by_id && strcmp(by_id->id, m->id) == 0, "get by id");
        meter_info_free(by_id);
        meter_info_free(m);
    }
    rc = meter_get(c, meter_by_name("no_such_meter"), &m, &err);
    CHECK(rc == METER_NOT_FOUND && m == NULL, "get missing: %s", meter_status_name(rc));
    CHECK_STR(err.reason, "METER_NOT_FOUND");

    meter_list *list = NULL;
    rc = meter_list_meters(c, 0, NULL, 1, &list, &err);
    CHECK(rc == METER_OK && list && list->n_meters == 1, "list: %s, %zu meters", meter_status_name(rc),
          list ? list->n_meters : 0);
    if (list && list->n_meters == 1)
        CHECK_STR(list->meters[0].definition.event_name, "tokens_used");
    meter_list_free(list);

    meter_serving serving = METER_SERVING_UNSPECIFIED;
    char message[128];
    rc = meter_health(c, &serving, message, sizeof message, &err);
    CHECK(rc == METER_OK && serving == METER_SERVING, "health: %s, serving %d", meter_status_name(rc), serving);

    meter_server_info info;
    rc = meter_server_info_get(c, &info, &err);
    CHECK(rc == METER_OK && info.version[0] && strcmp(info.durability, "fsync") == 0 && !info.failure[0],
          "server info: %s version \"%s\" durability \"%s\"", meter_status_name(rc), info.version, info.durability);

    int64_t rtt = -1;
    rc = meter_ping(c, &rtt, &err);
    CHECK(rc == METER_OK && rtt >= 0, "ping: %s %s", meter_status_name(rc), err.message);

    m = NULL;
    rc = meter_update_display_name(c, meter_by_name("tokens_used"), "Tokens (LLM)", &m, &err);
    CHECK(rc == METER_OK && m, "update: %s %s", meter_status_name(rc), err.message);
    if (m)
        CHECK_STR(m->definition.display_name, "Tokens (LLM)");
    meter_info_free(m);
    rc = meter_update_display_name(c, meter_by_name("tokens_used"), "Tokens Used", NULL, &err);
    CHECK(rc == METER_OK, "update back: %s", meter_status_name(rc));
}

/* The batch: 3 counted (int, decimal and decimal+bool values, two customers), 1 filtered out,
 * 1 duplicate of the first id, 1 too old. */
typedef struct batch {
    char ids[N_EVENTS][64];
    meter_property props[N_EVENTS][3];
    meter_event events[N_EVENTS];
} batch;

static void build_batch(batch *b, const char *tag, int64_t ts)
{
    for (int i = 0; i < N_EVENTS; i++)
        snprintf(b->ids[i], sizeof b->ids[i], "c-test-%s-%d", tag, i);
    snprintf(b->ids[4], sizeof b->ids[4], "c-test-%s-0", tag); /* duplicate of event 0 */
    meter_property(*p)[3] = b->props;
    p[0][0] = meter_prop_string("model", "llama3.1"); p[0][1] = meter_prop_int("tokens", 1250);
    p[1][0] = meter_prop_string("model", "llama3.2"); p[1][1] = meter_prop_decimal("tokens", "25.5");
    p[2][0] = meter_prop_string("model", "llama3.1"); p[2][1] = meter_prop_decimal("tokens", "0.000000001");
    p[2][2] = meter_prop_bool("cached", 1);
    p[3][0] = meter_prop_string("model", "gpt-4");    p[3][1] = meter_prop_int("tokens", 999);
    p[4][0] = meter_prop_string("model", "llama3.1"); p[4][1] = meter_prop_int("tokens", 1250);
    p[5][0] = meter_prop_string("model", "llama3.1"); p[5][1] = meter_prop_int("tokens", 7);
    p[6][0] = meter_prop_string("model", "llama3.1"); p[6][1] = meter_prop_int("tokens", -3);
    static const size_t n_props[N_EVENTS] = {2, 2, 3, 2, 2, 2, 2};
    for (int i = 0; i < N_EVENTS; i++) {
        b->events[i] = (meter_event){.event_id = b->ids[i], .event_name = "tokens_used",
                                     .customer_id = i == 2 ? "cust-7" : "cust-42", .timestamp_ms = ts,
                                     .properties = p[i], .n_properties = n_props[i], .source = "c-tests"};
    }
    b->events[5].timestamp_ms = 1767225600000LL; /* 2026-01-01: outside the late window */
    b->events[6].event_name = "Not A Valid Name";  /* invalid event name */
}

static void check_results(const meter_event_result *r, int retry)
{
    static const char *const what[N_EVENTS] = {"int", "decimal", "tiny decimal", "filtered", "dup", "old", "bad name"};
    for (int i = 0; i < 4; i++) {
        meter_event_status want = retry ? METER_EVENT_DUPLICATE : METER_EVENT_ACCEPTED;
        CHECK(r[i].status == want, "event %d (%s): %s, want %s", i, what[i], meter_event_status_name(r[i].status),
              meter_event_status_name(want));
    }
    if (!retry) {
        CHECK(r[0].outcome == METER_OUTCOME_COUNTED && r[1].outcome == METER_OUTCOME_COUNTED &&
                  r[2].outcome == METER_OUTCOME_COUNTED,
              "outcomes %s %s %s", meter_event_outcome_name(r[0].outcome), meter_event_outcome_name(r[1].outcome),
              meter_event_outcome_name(r[2].outcome));
        CHECK(r[3].outcome == METER_OUTCOME_FILTERED_OUT, "outcome %s", meter_event_outcome_name(r[3].outcome));
    }
    CHECK(r[4].status == METER_EVENT_DUPLICATE, "in-batch duplicate: %s", meter_event_status_name(r[4].status));
    CHECK(r[5].status == METER_EVENT_REJECTED, "old event: %s", meter_event_status_name(r[5].status));
    CHECK_STR(r[5].reason, "TIMESTAMP_TOO_OLD");
    CHECK(r[6].status == METER_EVENT_REJECTED, "bad name: %s", meter_event_status_name(r[6].status));
    CHECK_STR(r[6].reason, "INVALID_EVENT_NAME");
    CHECK(r[6].message[0] != '\0', "rejection message present");
}

static void ingest_batch(meter_client *c, batch *b, int retry)
{
    meter_event_result results[N_EVENTS];
    meter_batch_summary sum = {0};
    meter_error err;
    int rc = meter_ingest_batch(c, b->events, N_EVENTS, results, &sum, &err);
    CHECK(rc == METER_OK, "batch: %s %s: %s", meter_status_name(rc), err.reason, err.message);
    if (rc != METER_OK)
        return;
    check_results(results, retry);
    if (retry)
        CHECK(sum.accepted == 0 && sum.duplicates == 5 && sum.rejected == 2, "retry summary %u/%u/%u",
              sum.accepted, sum.duplicates, sum.rejected);
    else
        CHECK(sum.accepted == 4 && sum.duplicates == 1 && sum.rejected == 2, "summary %u/%u/%u", sum.accepted,
              sum.duplicates, sum.rejected);
}

/* Exact decimal strings: total, per customer, and the current billing period. */
static void check_usage(meter_client *c, int64_t ts)
{
    int64_t minute = ts / 60000 * 60000;
    meter_query q = {.meter = meter_by_name("tokens_used"), .from_ms = minute - 3600000, .to_ms = minute + 120000};
    meter_usage *u = NULL;
    meter_error err;
    int rc = meter_query_usage(c, &q, &u, &err);
    CHECK(rc == METER_OK && u && u->n_rows == 1, "query: %s %s, %zu rows", meter_status_name(rc), err.message,
          u ? u->n_rows : 0);
    if (u && u->n_rows == 1) {
        CHECK_STR(u->rows[0].value, "1275.500000001");
        CHECK(u->rows[0].has_value && u->rows[0].event_count == 3, "event_count %lld", (long long)u->rows[0].event_count);
        CHECK(u->rows[0].window_start_ms == q.from_ms && u->rows[0].window_end_ms == q.to_ms, "window");
    }
    meter_usage_free(u);

    q.group_by_customer = 1;
    rc = meter_query_usage(c, &q, &u, &err);
    CHECK(rc == METER_OK && u && u->n_rows == 2, "by customer: %s, %zu rows", meter_status_name(rc), u ? u->n_rows : 0);
    if (u && u->n_rows == 2) {
        CHECK_STR(u->rows[0].customer_id, "cust-42");
        CHECK_STR(u->rows[0].value, "1275.5");
        CHECK_STR(u->rows[1].customer_id, "cust-7");
        CHECK_STR(u->rows[1].value, "0.000000001");
    }
    meter_usage_free(u);

    rc = meter_current_usage(c, meter_by_name("tokens_used"), "cust-42", 0, &u, &err);
    CHECK(rc == METER_OK && u && u->n_rows == 1, "current: %s %s", meter_status_name(rc), err.message);
    if (u && u->n_rows == 1)
        CHECK_STR(u->rows[0].value, "1275.5");
    meter_usage_free(u);
}

/* Entitlements: none yet, then a hard default of 1000 that cust-42 (1275.5) is over. */
static void check_entitlements(meter_client *c)
{
    meter_error err;
    meter_entitlement_check check;
    int rc;
    rc = meter_check_entitlement(c, meter_by_name("tokens_used"), "cust-42", 0, &check, &err);
    CHECK(rc == METER_NOT_FOUND && strcmp(err.reason, "ENTITLEMENT_NOT_FOUND") == 0, "no entitlement: %s %s",
          meter_status_name(rc), err.reason);
    rc = meter_set_entitlement(c, meter_by_name("tokens_used"), NULL, "1000", 0, &err);
    CHECK(rc == METER_OK, "set entitlement: %s %s", meter_status_name(rc), err.message);
    rc = meter_check_entitlement(c, meter_by_name("tokens_used"), "cust-42", 0, &check, &err);
    CHECK(rc == METER_OK, "check: %s %s", meter_status_name(rc), err.message);
    CHECK(!check.has_access && check.is_default && !check.soft, "cust-42 over its hard limit");
    CHECK_STR(check.usage, "1275.5");
    CHECK_STR(check.overage, "275.5");
    CHECK(check.period_end_ms > check.period_start_ms, "a monthly period");
    rc = meter_check_entitlement(c, meter_by_name("tokens_used"), "cust-7", 0, &check, &err);
    CHECK(rc == METER_OK && check.has_access, "cust-7 has access");
    CHECK_STR(check.remaining, "999.999999999");
}

/* Grants, threshold rules and notifications, after check_entitlements (a hard default of 1000;
 * cust-42 at 1275.5, cust-7 at 0.000000001). */
static void check_grants_and_rules(meter_client *c, int64_t ts)
{
    meter_error err;
    meter_entitlement_check check;
    meter_grant grant;
    int rc = meter_add_grant(c, meter_by_name("tokens_used"), "cust-42", "500", 0, 0, &grant, &err);
    CHECK(rc == METER_OK && strncmp(grant.id, "grt_", 4) == 0, "add grant: %s %s", meter_status_name(rc), err.message);
    CHECK_STR(grant.customer_id, "cust-42");
    CHECK_STR(grant.amount, "500");
    CHECK(grant.effective_from_ms > 0 && grant.expires_at_ms == 0, "grant from now, no expiry");
    rc = meter_check_entitlement(c, meter_by_name("tokens_used"), "cust-42", 0, &check, &err);
    CHECK(rc == METER_OK && check.has_access, "the grant gives cust-42 access: %s", meter_status_name(rc));
    CHECK_STR(check.limit, "1500");
    CHECK_STR(check.granted, "500");

    meter_threshold_rule rule;
    rc = meter_add_threshold_rule(c, meter_by_name("tokens_used"), "cust-42", "2000", NULL, &rule, &err);
    CHECK(rc == METER_OK && strncmp(rule.id, "thr_", 4) == 0, "add value rule: %s %s", meter_status_name(rc), err.message);
    CHECK_STR(rule.value, "2000");
    CHECK_STR(rule.percent, "");
    char value_rule[32];
    snprintf(value_rule, sizeof value_rule, "%s", rule.id);
    rc = meter_add_threshold_rule(c, meter_by_name("tokens_used"), NULL, NULL, "50", &rule, &err);
    CHECK(rc == METER_OK, "add percent rule: %s %s", meter_status_name(rc), err.message);
    CHECK_STR(rule.percent, "50");
    CHECK_STR(rule.customer_id, "");
    rc = meter_add_threshold_rule(c, meter_by_name("tokens_used"), NULL, "1", "50", &rule, &err);
    CHECK(rc == METER_INVALID_ARGUMENT, "value and percent together: %s", meter_status_name(rc));
    rc = meter_add_threshold_rule(c, meter_by_name("tokens_used"), NULL, "-1", NULL, &rule, &err);
    CHECK(rc == METER_INVALID_ARGUMENT && strcmp(err.reason, "INVALID_THRESHOLD_RULE") == 0, "negative level: %s %s",
          meter_status_name(rc), err.reason);

    meter_threshold_rule *rules = NULL;
    size_t n = 0;
    rc = meter_list_threshold_rules(c, meter_by_name("tokens_used"), &rules, &n, &err);
    CHECK(rc == METER_OK && n == 2, "list rules of the meter: %s, %zu", meter_status_name(rc), n);
    if (n == 2) {
        CHECK_STR(rules[0].id, value_rule);
        CHECK_STR(rules[1].percent, "50");
    }
    meter_threshold_rules_free(rules);
    meter_ref every = {NULL, NULL};
    rc = meter_list_threshold_rules(c, every, &rules, &n, &err);
    CHECK(rc == METER_OK && n == 2, "list every rule: %s, %zu", meter_status_name(rc), n);
    meter_threshold_rules_free(rules);

    meter_notification *notes = NULL;
    uint64_t last = 99;
    rc = meter_list_notifications(c, 0, 0, 0, &notes, &n, &last, &err);
    CHECK(rc == METER_OK && n == 0 && notes == NULL && last == 0, "no notification yet: %s %zu %llu", meter_status_name(rc), n,
          (unsigned long long)last);
    /* cust-7 reaches 50% of the default 1000 (two hours back: outside check_usage's window). */
    meter_property props[2] = {meter_prop_string("model", "llama3.1"), meter_prop_int("tokens", 600)};
    meter_event event = {.event_id = "c-test-rule-crossing", .event_name = "tokens_used", .customer_id = "cust-7",
                         .timestamp_ms = ts - 2 * 3600000LL, .properties = props, .n_properties = 2};
    meter_event_result result;
    rc = meter_ingest(c, &event, &result, &err);
    CHECK(rc == METER_OK && result.outcome == METER_OUTCOME_COUNTED, "crossing event: %s %s", meter_status_name(rc), err.message);
    rc = meter_list_notifications(c, 0, 10, 5000, &notes, &n, &last, &err);
    CHECK(rc == METER_OK && n == 1, "one notification: %s %zu %s", meter_status_name(rc), n, err.message);
    if (n == 1) {
        CHECK(notes[0].number == 1 && last == 1, "numbered 1 (last %llu)", (unsigned long long)last);
        CHECK_STR(notes[0].customer_id, "cust-7");
        CHECK_STR(notes[0].threshold, "500");
        CHECK_STR(notes[0].usage, "600.000000001");
        CHECK(notes[0].period_end_ms > notes[0].period_start_ms && notes[0].sequence > 0, "a monthly period and a log position");
    }
    meter_notifications_free(notes);

    rc = meter_remove_grant(c, "grt_999", &err);
    CHECK(rc == METER_NOT_FOUND && strcmp(err.reason, "GRANT_NOT_FOUND") == 0, "unknown grant: %s %s", meter_status_name(rc), err.reason);
    rc = meter_remove_grant(c, grant.id, &err);
    CHECK(rc == METER_OK, "remove grant: %s %s", meter_status_name(rc), err.message);
    rc = meter_check_entitlement(c, meter_by_name("tokens_used"), "cust-42", 0, &check, &err);
    CHECK(rc == METER_OK && !check.has_access, "without the grant cust-42 is over again");
    rc = meter_remove_threshold_rule(c, value_rule, &err);
    CHECK(rc == METER_OK, "remove rule: %s %s", meter_status_name(rc), err.message);
    rc = meter_remove_threshold_rule(c, value_rule, &err);
    CHECK(rc == METER_NOT_FOUND && strcmp(err.reason, "THRESHOLD_RULE_NOT_FOUND") == 0, "removed twice: %s", meter_status_name(rc));
    rc = meter_list_threshold_rules(c, meter_by_name("tokens_used"), &rules, &n, &err);
    CHECK(rc == METER_OK && n == 1, "one rule left: %zu", n);
    meter_threshold_rules_free(rules);
    rc = meter_remove_entitlement(c, meter_by_name("tokens_used"), NULL, &err);
    CHECK(rc == METER_OK, "remove the default: %s %s", meter_status_name(rc), err.message);
    rc = meter_remove_entitlement(c, meter_by_name("tokens_used"), NULL, &err);
    CHECK(rc == METER_NOT_FOUND && strcmp(err.reason, "ENTITLEMENT_NOT_FOUND") == 0, "removed twice: %s", meter_status_name(rc));
    rc = meter_check_entitlement(c, meter_by_name("tokens_used"), "cust-7", 0, &check, &err);
    CHECK(rc == METER_NOT_FOUND, "no entitlement left: %s", meter_status_name(rc));
}

/* One full scenario on a fresh meterd, over the Unix socket (use_tcp 0) or TCP (1). */
static void scenario(int use_tcp)
{
    const char *name = use_tcp ? "tcp" : "unix";
    printf("-- %s\n", name);
    test_server s = {0};
    if (test_server_start(&s) != 0) {
        CHECK(0, "meterd started (%s)", test_meterd_binary());
        test_server_cleanup(&s);
        return;
    }
    const char *addr = use_tcp ? s.tcp_addr : s.unix_addr;
    meter_client *c = connect_or_report(addr, NULL, use_tcp ? s.api_key : NULL);
    if (!c) {
        test_server_cleanup(&s);
        return;
    }
    CHECK_STR(meter_tenant(c), "default");
    CHECK(meter_max_batch_events(c) == 10000, "max batch %u", meter_max_batch_events(c));
    create_guide_meter(c);
    check_meter_admin(c);

    batch b;
    int64_t ts = wall_ms() - 5000;
    build_batch(&b, name, ts);
    ingest_batch(c, &b, 0);
    check_usage(c, ts);
    check_entitlements(c);
    check_grants_and_rules(c, ts);

    /* Restart: SIGTERM (exit 0), then the same data dir and socket. */
    int status = test_server_stop(&s);
    CHECK(status == 0, "meterd exit status on SIGTERM: %d", status);
    meter_error err;
    meter_serving serving;
    int rc = meter_health(c, &serving, NULL, 0, &err);
    CHECK(rc == METER_UNAVAILABLE, "call after server exit: %s (%s)", meter_status_name(rc), err.message);
    CHECK(!meter_is_connected(c), "client knows the connection is gone");
    meter_close(c);

    if (test_server_start(&s) != 0) {
        CHECK(0, "meterd restarted");
        test_server_cleanup(&s);
        return;
    }
    addr = use_tcp ? s.tcp_addr : s.unix_addr;
    c = connect_or_report(addr, NULL, use_tcp ? s.api_key : NULL);
    if (c) {
        ingest_batch(c, &b, 1);
        check_usage(c, ts);

        meter_info *m = NULL;
        rc = meter_archive(c, meter_by_name("tokens_used"), &m, &err);
        CHECK(rc == METER_OK && m && m->state == METER_STATE_ARCHIVED, "archive: %s %s", meter_status_name(rc), err.message);
        meter_info_free(m);
        meter_close(c);
    }
    status = test_server_stop(&s);
    CHECK(status == 0, "meterd exit status on SIGTERM: %d", status);
    test_server_cleanup(&s);
}

/* Errors that never reach a server, or that the handshake produces. */
static void connection_errors(void)
{
    meter_error err;
    meter_client *c = meter_connect("unix:/nonexistent/meterd.sock", NULL, 2000, &err);
    CHECK(c == NULL && err.code == METER_UNAVAILABLE, "missing socket: %s", meter_status_name(err.code));
    c = meter_connect("127.0.0.1:1", NULL, 2000, &err);
    CHECK(c == NULL && err.code == METER_UNAVAILABLE, "refused port: %s", meter_status_name(err.code));
    c = meter_connect("no-port", NULL, 2000, &err);
    CHECK(c == NULL && err.code == METER_INVALID_ARGUMENT, "bad address: %s", meter_status_name(err.code));
    c = meter_connect("[::1", NULL, 2000, &err);
    CHECK(c == NULL && err.code == METER_INVALID_ARGUMENT, "bad v6 address: %s", meter_status_name(err.code));
    meter_close(NULL);
    CHECK(meter_health(NULL, NULL, NULL, 0, &err) == METER_UNAVAILABLE, "NULL client");

    test_server s = {0};
    if (test_server_start(&s) != 0) {
        CHECK(0, "meterd started");
        test_server_cleanup(&s);
        return;
    }
    c = meter_connect(s.unix_addr, "Bad Tenant!", 5000, &err);
    CHECK(c == NULL && err.code == METER_UNAVAILABLE, "invalid tenant refused: %s", meter_status_name(err.code));
    CHECK_STR(err.reason, "GOAWAY");
    printf("   (invalid tenant: %s)\n", err.message);
    /* TCP needs an API key; the key decides the tenant. */
    c = meter_connect_with_api_key(s.tcp_addr, NULL, "", 5000, &err);
    CHECK(c == NULL && err.code == METER_UNAUTHENTICATED, "TCP without a key: %s %s", meter_status_name(err.code), err.message);
    c = meter_connect_with_api_key(s.tcp_addr, NULL, "mk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 5000, &err);
    CHECK(c == NULL && err.code == METER_UNAUTHENTICATED, "unknown key: %s %s", meter_status_name(err.code), err.message);
    c = meter_connect_with_api_key(s.tcp_addr, "acme", s.api_key, 5000, &err);
    CHECK(c == NULL && err.code == METER_PERMISSION_DENIED, "another tenant than the key's: %s %s", meter_status_name(err.code), err.message);
    c = meter_connect_with_api_key(s.tcp_addr, NULL, s.api_key, 5000, &err);
    CHECK(c != NULL, "bootstrap key over TCP: %s", err.message);
    if (c) {
        CHECK_STR(meter_tenant(c), "default");
        meter_close(c);
    }
    /* The socket's owner (this process's user) may act for any tenant without a key. */
    c = meter_connect(s.unix_addr, "acme", 5000, &err);
    CHECK(c != NULL, "tenant acme: %s", err.message);
    if (c) {
        CHECK_STR(meter_tenant(c), "acme");
        meter_info *m = NULL;
        int rc = meter_get(c, meter_by_name("tokens_used"), &m, &err);
        CHECK(rc == METER_NOT_FOUND, "tenant isolation: %s", meter_status_name(rc));
        meter_close(c);
    }
    test_server_cleanup(&s);
}

void test_live(void)
{
    scenario(0);
    scenario(1);
    printf("-- connection errors\n");
    connection_errors();
}
