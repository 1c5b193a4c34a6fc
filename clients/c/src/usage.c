/* usage.c: Query.QueryUsage, Query.CurrentUsage, Health.Check and Health.ServerInfo. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void meter_usage_free(meter_usage *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->n_rows; i++) {
        meter_usage_row *r = &u->rows[i];
        free(r->customer_id);
        free(r->value);
        for (size_t j = 0; j < r->n_group; j++) {
            free(r->group[j].key);
            free(r->group[j].value);
        }
        free(r->group);
    }
    free(u->rows);
    free(u->meter_id);
    free(u);
}

static int row_from_pb(const Meterd__V1__UsageRow *pb, meter_usage_row *r)
{
    r->window_start_ms = pb->window_start_ms;
    r->window_end_ms = pb->window_end_ms;
    r->has_value = pb->has_value;
    r->event_count = pb->event_count;
    r->customer_id = mc_strdup(pb->customer_id);
    r->value = mc_strdup(pb->value);
    if (!r->customer_id || !r->value)
        return -1;
    if (pb->n_group) {
        r->group = calloc(pb->n_group, sizeof *r->group);
        if (!r->group)
            return -1;
        for (size_t i = 0; i < pb->n_group; i++) {
            r->n_group = i + 1;
            r->group[i].present = pb->group[i]->present;
            r->group[i].key = mc_strdup(pb->group[i]->key);
            r->group[i].value = mc_strdup(pb->group[i]->value);
            if (!r->group[i].key || !r->group[i].value)
                return -1;
        }
    }
    return 0;
}

/* Copies rows into a new meter_usage; 0, or a status code. */
static int usage_from_pb(const Meterd__V1__Meter *meter, Meterd__V1__UsageRow *const *rows, size_t n,
                         meter_usage **out, meter_error *error)
{
    meter_usage *u = calloc(1, sizeof *u);
    int ok = u && (u->meter_id = mc_strdup(meter ? meter->id : "")) != NULL;
    if (ok && n) {
        u->rows = calloc(n, sizeof *u->rows);
        ok = u->rows != NULL;
    }
    for (size_t i = 0; ok && i < n; i++) {
        u->n_rows = i + 1;
        ok = row_from_pb(rows[i], &u->rows[i]) == 0;
    }
    if (!ok) {
        meter_usage_free(u);
        return mc_fail(error, METER_INTERNAL, "", "out of memory");
    }
    *out = u;
    return 0;
}

int meter_query_usage(meter_client *c, const meter_query *q, meter_usage **out, meter_error *error)
{
    if (!q || !out)
        return mc_fail(error, METER_INVALID_ARGUMENT, "", "query or out is NULL");
    *out = NULL;
    mc_arena a = {0};
    Meterd__V1__QueryUsageRequest req = METERD__V1__QUERY_USAGE_REQUEST__INIT;
    req.meter = mc_ref_to_pb(&a, q->meter);
    req.from_ms = q->from_ms;
    req.to_ms = q->to_ms;
    req.window_size = (Meterd__V1__WindowSize)q->window;
    req.customer_id = mc_str(&a, q->customer_id);
    req.group_by_customer = q->group_by_customer != 0;
    if (q->n_group_by) {
        req.group_by = mc_alloc(&a, q->n_group_by * sizeof *req.group_by);
        for (size_t i = 0; req.group_by && i < q->n_group_by; i++)
            req.group_by[i] = mc_str(&a, q->group_by[i]);
        req.n_group_by = q->n_group_by;
    }
    req.n_group_filters = q->n_group_filters;
    req.group_filters = mc_filters_to_pb(&a, q->group_filters, q->n_group_filters);
    Meterd__V1__QueryUsageResponse *resp;
    int rc = mc_call_with_arena(c, MC_METHOD_QUERY_USAGE, &a, &req.base, &meterd__v1__query_usage_response__descriptor, (ProtobufCMessage **)&resp, error);
    if (rc)
        return rc;
    rc = usage_from_pb(resp->meter, resp->rows, resp->n_rows, out, error);
    meterd__v1__query_usage_response__free_unpacked(resp, NULL);
    return rc;
}

int meter_current_usage(meter_client *c, meter_ref meter, const char *customer_id, int64_t at_ms,
                        meter_usage **out, meter_error *error)
{
    if (!out)
        return mc_fail(error, METER_INVALID_ARGUMENT, "", "out is NULL");
    *out = NULL;
    mc_arena a = {0};
    Meterd__V1__CurrentUsageRequest req = METERD__V1__CURRENT_USAGE_REQUEST__INIT;
    req.meter = mc_ref_to_pb(&a, meter);
    req.customer_id = mc_str(&a, customer_id);
    req.at_ms = at_ms;
    Meterd__V1__CurrentUsageResponse *resp;
    int rc = mc_call_with_arena(c, MC_METHOD_CURRENT_USAGE, &a, &req.base, &meterd__v1__current_usage_response__descriptor, (ProtobufCMessage **)&resp, error);
    if (rc)
        return rc;
    rc = usage_from_pb(resp->meter, &resp->row, resp->row ? 1 : 0, out, error);
    meterd__v1__current_usage_response__free_unpacked(resp, NULL);
    return rc;
}

int meter_health(meter_client *c, meter_serving *serving, char *message, size_t message_size, meter_error *error)
{
    Meterd__V1__HealthCheckRequest req = METERD__V1__HEALTH_CHECK_REQUEST__INIT;
    Meterd__V1__HealthCheckResponse *resp;
    int rc = mc_call(c, MC_METHOD_HEALTH_CHECK, &req.base, &meterd__v1__health_check_response__descriptor,
                     (ProtobufCMessage **)&resp, error);
    if (rc)
        return rc;
    if (serving)
        *serving = (meter_serving)resp->status;
    mc_copy_text(message, message_size, resp->message);
    meterd__v1__health_check_response__free_unpacked(resp, NULL);
    return 0;
}

int meter_server_info_get(meter_client *c, meter_server_info *info, meter_error *error)
{
    if (!info)
        return mc_fail(error, METER_INVALID_ARGUMENT, "", "info is NULL");
    memset(info, 0, sizeof *info);
    Meterd__V1__ServerInfoRequest req = METERD__V1__SERVER_INFO_REQUEST__INIT;
    Meterd__V1__ServerInfoResponse *resp;
    int rc = mc_call(c, MC_METHOD_SERVER_INFO, &req.base, &meterd__v1__server_info_response__descriptor,
                     (ProtobufCMessage **)&resp, error);
    if (rc)
        return rc;
    mc_copy_text(info->version, sizeof info->version, resp->version);
    mc_copy_text(info->durability, sizeof info->durability, resp->durability);
    mc_copy_text(info->failure, sizeof info->failure, resp->failure);
    info->uptime_ms = resp->uptime_ms;
    info->last_applied_sequence = resp->last_applied_sequence;
    info->first_retained_sequence = resp->first_retained_sequence;
    info->group_commits = resp->group_commits;
    info->syncs = resp->syncs;
    meterd__v1__server_info_response__free_unpacked(resp, NULL);
    return 0;
}
