/* ingest.c: Ingest.Ingest and Ingest.IngestBatch. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static Meterd__V1__Property *property_to_pb(mc_arena *a, const meter_property *p)
{
    Meterd__V1__Property *pb = mc_alloc(a, sizeof *pb);
    Meterd__V1__PropertyValue *v = mc_alloc(a, sizeof *v);
    if (!pb || !v)
        return NULL;
    meterd__v1__property__init(pb);
    meterd__v1__property_value__init(v);
    pb->key = mc_str(a, p->key);
    pb->value = v;
    switch (p->kind) {
    case METER_PROP_INT:
        v->kind_case = METERD__V1__PROPERTY_VALUE__KIND_INTEGER_VALUE;
        v->integer_value = p->integer;
        break;
    case METER_PROP_DECIMAL:
        v->kind_case = METERD__V1__PROPERTY_VALUE__KIND_DECIMAL_VALUE;
        v->decimal_value = mc_str(a, p->text);
        break;
    case METER_PROP_BOOL:
        v->kind_case = METERD__V1__PROPERTY_VALUE__KIND_BOOL_VALUE;
        v->bool_value = p->boolean != 0;
        break;
    case METER_PROP_STRING:
    default: /* an unknown kind is sent as a string; the server validates */
        v->kind_case = METERD__V1__PROPERTY_VALUE__KIND_STRING_VALUE;
        v->string_value = mc_str(a, p->text);
        break;
    }
    return pb;
}

Meterd__V1__Event *mc_event_to_pb(mc_arena *a, const meter_event *e)
{
    Meterd__V1__Event *pb = mc_alloc(a, sizeof *pb);
    if (!pb)
        return NULL;
    meterd__v1__event__init(pb);
    pb->event_id = mc_str(a, e->event_id);
    pb->event_name = mc_str(a, e->event_name);
    pb->customer_id = mc_str(a, e->customer_id);
    pb->timestamp_ms = e->timestamp_ms;
    pb->source = mc_str(a, e->source);
    if (e->n_properties) {
        pb->properties = mc_alloc(a, e->n_properties * sizeof *pb->properties);
        for (size_t i = 0; pb->properties && i < e->n_properties; i++)
            pb->properties[i] = property_to_pb(a, &e->properties[i]);
        pb->n_properties = e->n_properties;
    }
    return a->failed ? NULL : pb;
}

static void result_from_pb(const Meterd__V1__EventResult *pb, meter_event_result *r)
{
    memset(r, 0, sizeof *r);
    if (!pb)
        return;
    r->status = (meter_event_status)pb->status;
    r->outcome = (meter_event_outcome)pb->outcome;
    mc_copy_text(r->reason, sizeof r->reason, pb->reason);
    mc_copy_text(r->message, sizeof r->message, pb->message);
}

int meter_ingest(meter_client *c, const meter_event *event, meter_event_result *result, meter_error *error)
{
    if (!event)
        return mc_fail(error, METER_INVALID_ARGUMENT, "", "event is NULL");
    mc_arena a = {0};
    Meterd__V1__IngestRequest req = METERD__V1__INGEST_REQUEST__INIT;
    req.event = mc_event_to_pb(&a, event);
    if (!req.event) {
        mc_arena_free(&a);
        return mc_fail(error, METER_INTERNAL, "", "out of memory");
    }
    Meterd__V1__IngestResponse *resp;
    int rc = mc_call(c, MC_METHOD_INGEST, &req.base, &meterd__v1__ingest_response__descriptor,
                     (ProtobufCMessage **)&resp, error);
    mc_arena_free(&a);
    if (rc)
        return rc;
    if (result)
        result_from_pb(resp->result, result);
    meterd__v1__ingest_response__free_unpacked(resp, NULL);
    return 0;
}

int meter_ingest_batch(meter_client *c, const meter_event *events, size_t n, meter_event_result *results,
                       meter_batch_summary *summary, meter_error *error)
{
    if (n > 0 && !events)
        return mc_fail(error, METER_INVALID_ARGUMENT, "", "events is NULL");
    mc_arena a = {0};
    Meterd__V1__IngestBatchRequest req = METERD__V1__INGEST_BATCH_REQUEST__INIT;
    if (n) {
        req.events = mc_alloc(&a, n * sizeof *req.events);
        for (size_t i = 0; req.events && i < n; i++)
            req.events[i] = mc_event_to_pb(&a, &events[i]);
        req.n_events = n;
    }
    Meterd__V1__IngestBatchResponse *resp;
    int rc = mc_call_with_arena(c, MC_METHOD_INGEST_BATCH, &a, &req.base, &meterd__v1__ingest_batch_response__descriptor, (ProtobufCMessage **)&resp, error);
    if (rc)
        return rc;
    if (resp->n_results != n) {
        meterd__v1__ingest_batch_response__free_unpacked(resp, NULL);
        return mc_fail(error, METER_INTERNAL, "PROTOCOL", "%zu results for %zu events", resp->n_results, n);
    }
    for (size_t i = 0; results && i < n; i++)
        result_from_pb(resp->results[i], &results[i]);
    if (summary) {
        summary->accepted = resp->accepted;
        summary->duplicates = resp->duplicates;
        summary->rejected = resp->rejected;
    }
    meterd__v1__ingest_batch_response__free_unpacked(resp, NULL);
    return 0;
}

const char *meter_event_status_name(meter_event_status s)
{
    switch (s) {
    case METER_EVENT_ACCEPTED: return "ACCEPTED";
    case METER_EVENT_DUPLICATE: return "DUPLICATE";
    case METER_EVENT_REJECTED: return "REJECTED";
    default: return "UNSPECIFIED";
    }
}

const char *meter_event_outcome_name(meter_event_outcome o)
{
    switch (o) {
    case METER_OUTCOME_COUNTED: return "COUNTED";
    case METER_OUTCOME_NO_ACTIVE_METER: return "NO_ACTIVE_METER";
    case METER_OUTCOME_FILTERED_OUT: return "FILTERED_OUT";
    case METER_OUTCOME_MISSING_VALUE: return "MISSING_VALUE";
    case METER_OUTCOME_OVERFLOW: return "OVERFLOW";
    default: return "UNSPECIFIED";
    }
}
