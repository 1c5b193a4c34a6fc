/* meters.c: Admin methods (create, get, list, archive) and meter conversions. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

Meterd__V1__MeterFilter **mc_filters_to_pb(mc_arena *a, const meter_filter *filters, size_t n)
{
    if (n == 0)
        return NULL;
    Meterd__V1__MeterFilter **out = mc_alloc(a, n * sizeof *out);
    for (size_t i = 0; out && i < n; i++) {
        Meterd__V1__MeterFilter *f = mc_alloc(a, sizeof *f);
        if (!f)
            return NULL;
        meterd__v1__meter_filter__init(f);
        f->key = mc_str(a, filters[i].key);
        f->n_values = filters[i].n_values;
        if (f->n_values) {
            f->values = mc_alloc(a, f->n_values * sizeof *f->values);
            for (size_t j = 0; f->values && j < f->n_values; j++)
                f->values[j] = mc_str(a, filters[i].values[j]);
        }
        out[i] = f;
    }
    return out;
}

static char **strings_to_pb(mc_arena *a, const char *const *strings, size_t n)
{
    if (n == 0)
        return NULL;
    char **out = mc_alloc(a, n * sizeof *out);
    for (size_t i = 0; out && i < n; i++)
        out[i] = mc_str(a, strings[i]);
    return out;
}

Meterd__V1__MeterDefinition *mc_definition_to_pb(mc_arena *a, const meter_definition *d)
{
    Meterd__V1__MeterDefinition *pb = mc_alloc(a, sizeof *pb);
    if (!pb)
        return NULL;
    meterd__v1__meter_definition__init(pb);
    pb->event_name = mc_str(a, d->event_name);
    pb->display_name = mc_str(a, d->display_name);
    pb->n_filters = d->n_filters;
    pb->filters = mc_filters_to_pb(a, d->filters, d->n_filters);
    pb->aggregation = (Meterd__V1__Aggregation)d->aggregation;
    pb->field = mc_str(a, d->field);
    pb->multiplier = mc_str(a, d->multiplier);
    pb->reset = (Meterd__V1__ResetMode)d->reset;
    pb->billing_period = (Meterd__V1__BillingPeriod)d->period;
    pb->anchor_ms = d->has_anchor ? d->anchor_ms : 0;
    pb->has_anchor = d->has_anchor != 0;
    pb->n_group_by = d->n_group_by;
    pb->group_by = strings_to_pb(a, d->group_by, d->n_group_by);
    return a->failed ? NULL : pb;
}

Meterd__V1__MeterReference *mc_ref_to_pb(mc_arena *a, meter_ref ref)
{
    Meterd__V1__MeterReference *pb = mc_alloc(a, sizeof *pb);
    if (!pb)
        return NULL;
    meterd__v1__meter_reference__init(pb);
    if (ref.id) {
        pb->kind_case = METERD__V1__METER_REFERENCE__KIND_ID;
        pb->id = mc_str(a, ref.id);
    } else {
        pb->kind_case = METERD__V1__METER_REFERENCE__KIND_EVENT_NAME;
        pb->event_name = mc_str(a, ref.event_name);
    }
    return pb;
}

/* ---- Results: malloc'd copies of server messages ---- */

static void free_strings(char **strings, size_t n)
{
    for (size_t i = 0; strings && i < n; i++)
        free(strings[i]);
    free(strings);
}

/* Copies n strings into a malloc'd array; 0 on success. */
static int copy_strings(char *const *src, size_t n, char ***out)
{
    *out = NULL;
    if (n == 0)
        return 0;
    char **dst = calloc(n, sizeof *dst);
    if (!dst)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!(dst[i] = mc_strdup(src[i]))) {
            free_strings(dst, n);
            return -1;
        }
    }
    *out = dst;
    return 0;
}

void mc_meter_info_clear(meter_info *m)
{
    meter_definition *d = &m->definition;
    free(m->id);
    free((char *)d->event_name);
    free((char *)d->display_name);
    free((char *)d->field);
    free((char *)d->multiplier);
    for (size_t i = 0; d->filters && i < d->n_filters; i++) {
        free((char *)d->filters[i].key);
        free_strings((char **)d->filters[i].values, d->filters[i].n_values);
    }
    free((meter_filter *)d->filters);
    free_strings((char **)d->group_by, d->n_group_by);
    memset(m, 0, sizeof *m);
}

int mc_meter_from_pb(const Meterd__V1__Meter *pb, meter_info *m)
{
    memset(m, 0, sizeof *m);
    m->id = mc_strdup(pb->id);
    m->state = (meter_state)pb->status;
    m->created_at_ms = pb->created_at_ms;
    m->archived_at_ms = pb->archived_at_ms;
    if (pb->counters) {
        m->counted = pb->counters->counted;
        m->filtered_out = pb->counters->filtered_out;
        m->missing_value = pb->counters->missing_value;
        m->overflowed = pb->counters->overflowed;
    }
    m->backfill_complete = pb->backfill ? pb->backfill->complete : 0;
    int ok = m->id != NULL;

    const Meterd__V1__MeterDefinition *src = pb->definition;
    meter_definition *d = &m->definition;
    if (src && ok) {
        d->event_name = mc_strdup(src->event_name);
        d->display_name = mc_strdup(src->display_name);
        d->field = mc_strdup(src->field);
        d->multiplier = mc_strdup(src->multiplier);
        d->aggregation = (meter_aggregation)src->aggregation;
        d->reset = (meter_reset)src->reset;
        d->period = (meter_period)src->billing_period;
        d->anchor_ms = src->anchor_ms;
        d->has_anchor = src->has_anchor;
        ok = d->event_name && d->display_name && d->field && d->multiplier;
        if (ok && src->n_filters) {
            meter_filter *filters = calloc(src->n_filters, sizeof *filters);
            d->filters = filters;
            ok = filters != NULL;
            for (size_t i = 0; ok && i < src->n_filters; i++) {
                d->n_filters = i + 1;
                filters[i].key = mc_strdup(src->filters[i]->key);
                char **values;
                ok = filters[i].key && copy_strings(src->filters[i]->values, src->filters[i]->n_values, &values) == 0;
                if (ok) {
                    filters[i].values = (const char *const *)values;
                    filters[i].n_values = src->filters[i]->n_values;
                }
            }
        }
        if (ok) {
            char **group_by;
            ok = copy_strings(src->group_by, src->n_group_by, &group_by) == 0;
            if (ok) {
                d->group_by = (const char *const *)group_by;
                d->n_group_by = src->n_group_by;
            }
        }
    }
    if (!ok) {
        mc_meter_info_clear(m);
        return -1;
    }
    if (!d->event_name) { /* no definition in the message: keep the documented "" strings */
        d->event_name = mc_strdup("");
        d->display_name = mc_strdup("");
        d->field = mc_strdup("");
        d->multiplier = mc_strdup("");
        if (!d->event_name || !d->display_name || !d->field || !d->multiplier) {
            mc_meter_info_clear(m);
            return -1;
        }
    }
    return 0;
}

void meter_info_free(meter_info *info)
{
    if (!info)
        return;
    mc_meter_info_clear(info);
    free(info);
}

void meter_list_free(meter_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n_meters; i++)
        mc_meter_info_clear(&list->meters[i]);
    free(list->meters);
    free(list->next_page_token);
    free(list);
}

/* Hands the meter of a response to the caller as a new meter_info (when out is not NULL). */
static int deliver_meter(const Meterd__V1__Meter *pb, meter_info **out, meter_error *error)
{
    if (!out)
        return 0;
    *out = NULL;
    if (!pb)
        return mc_fail(error, METER_INTERNAL, "PROTOCOL", "response without a meter");
    meter_info *m = malloc(sizeof *m);
    if (!m || mc_meter_from_pb(pb, m) != 0) {
        free(m);
        return mc_fail(error, METER_INTERNAL, "", "out of memory");
    }
    *out = m;
    return 0;
}

int meter_create(meter_client *c, const meter_definition *definition, meter_info **out, meter_error *error)
{
    if (out)
        *out = NULL;
    if (!definition)
        return mc_fail(error, METER_INVALID_ARGUMENT, "", "definition is NULL");
    mc_arena a = {0};
    Meterd__V1__CreateMeterRequest req = METERD__V1__CREATE_METER_REQUEST__INIT;
    req.definition = mc_definition_to_pb(&a, definition);
    if (!req.definition) {
        mc_arena_free(&a);
        return mc_fail(error, METER_INTERNAL, "", "out of memory");
    }
    Meterd__V1__CreateMeterResponse *resp;
    int rc = mc_call(c, MC_METHOD_CREATE_METER, &req.base, &meterd__v1__create_meter_response__descriptor,
                     (ProtobufCMessage **)&resp, error);
    mc_arena_free(&a);
    if (rc)
        return rc;
    rc = deliver_meter(resp->meter, out, error);
    meterd__v1__create_meter_response__free_unpacked(resp, NULL);
    return rc;
}

/* GetMeter and ArchiveMeter: a reference in, a meter out. */
static int ref_call(meter_client *c, uint16_t method, meter_ref ref, meter_info **out, meter_error *error)
{
    if (out)
        *out = NULL;
    if (!ref.id && !ref.event_name)
        return mc_fail(error, METER_INVALID_ARGUMENT, "", "meter reference names neither an id nor an event name");
    mc_arena a = {0};
    Meterd__V1__MeterReference *pb_ref = mc_ref_to_pb(&a, ref);
    if (!pb_ref || a.failed) {
        mc_arena_free(&a);
        return mc_fail(error, METER_INTERNAL, "", "out of memory");
    }
    int rc;
    if (method == MC_METHOD_GET_METER) {
        Meterd__V1__GetMeterRequest req = METERD__V1__GET_METER_REQUEST__INIT;
        Meterd__V1__GetMeterResponse *resp;
        req.meter = pb_ref;
        rc = mc_call(c, method, &req.base, &meterd__v1__get_meter_response__descriptor,
                     (ProtobufCMessage **)&resp, error);
        if (rc == 0) {
            rc = deliver_meter(resp->meter, out, error);
            meterd__v1__get_meter_response__free_unpacked(resp, NULL);
        }
    } else {
        Meterd__V1__ArchiveMeterRequest req = METERD__V1__ARCHIVE_METER_REQUEST__INIT;
        Meterd__V1__ArchiveMeterResponse *resp;
        req.meter = pb_ref;
        rc = mc_call(c, method, &req.base, &meterd__v1__archive_meter_response__descriptor,
                     (ProtobufCMessage **)&resp, error);
        if (rc == 0) {
            rc = deliver_meter(resp->meter, out, error);
            meterd__v1__archive_meter_response__free_unpacked(resp, NULL);
        }
    }
    mc_arena_free(&a);
    return rc;
}

int meter_update_display_name(meter_client *c, meter_ref ref, const char *display_name, meter_info **out,
                              meter_error *error)
{
    if (out)
        *out = NULL;
    if (!ref.id && !ref.event_name)
        return mc_fail(error, METER_INVALID_ARGUMENT, "", "meter reference names neither an id nor an event name");
    mc_arena a = {0};
    Meterd__V1__UpdateMeterRequest req = METERD__V1__UPDATE_METER_REQUEST__INIT;
    req.meter = mc_ref_to_pb(&a, ref);
    req.display_name = mc_str(&a, display_name);
    if (!req.meter || a.failed) {
        mc_arena_free(&a);
        return mc_fail(error, METER_INTERNAL, "", "out of memory");
    }
    Meterd__V1__UpdateMeterResponse *resp;
    int rc = mc_call(c, MC_METHOD_UPDATE_METER, &req.base, &meterd__v1__update_meter_response__descriptor,
                     (ProtobufCMessage **)&resp, error);
    mc_arena_free(&a);
    if (rc)
        return rc;
    rc = deliver_meter(resp->meter, out, error);
    meterd__v1__update_meter_response__free_unpacked(resp, NULL);
    return rc;
}

int meter_get(meter_client *c, meter_ref meter, meter_info **out, meter_error *error)
{
    return ref_call(c, MC_METHOD_GET_METER, meter, out, error);
}

int meter_archive(meter_client *c, meter_ref meter, meter_info **out, meter_error *error)
{
    return ref_call(c, MC_METHOD_ARCHIVE_METER, meter, out, error);
}

int meter_list_meters(meter_client *c, uint32_t page_size, const char *page_token, int include_archived,
                      meter_list **out, meter_error *error)
{
    if (!out)
        return mc_fail(error, METER_INVALID_ARGUMENT, "", "out is NULL");
    *out = NULL;
    Meterd__V1__ListMetersRequest req = METERD__V1__LIST_METERS_REQUEST__INIT;
    req.page_size = page_size;
    req.page_token = (char *)(page_token ? page_token : "");
    req.include_archived = include_archived != 0;
    Meterd__V1__ListMetersResponse *resp;
    int rc = mc_call(c, MC_METHOD_LIST_METERS, &req.base, &meterd__v1__list_meters_response__descriptor,
                     (ProtobufCMessage **)&resp, error);
    if (rc)
        return rc;
    meter_list *list = calloc(1, sizeof *list);
    int ok = list != NULL;
    if (ok && resp->n_meters) {
        list->meters = calloc(resp->n_meters, sizeof *list->meters);
        ok = list->meters != NULL;
    }
    for (size_t i = 0; ok && i < resp->n_meters; i++) {
        ok = mc_meter_from_pb(resp->meters[i], &list->meters[i]) == 0;
        if (ok)
            list->n_meters = i + 1;
    }
    if (ok)
        ok = (list->next_page_token = mc_strdup(resp->next_page_token)) != NULL;
    meterd__v1__list_meters_response__free_unpacked(resp, NULL);
    if (!ok) {
        meter_list_free(list);
        return mc_fail(error, METER_INTERNAL, "", "out of memory");
    }
    *out = list;
    return 0;
}
