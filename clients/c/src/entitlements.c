/* The Entitlements service: entitlements, checks, grants, threshold rules and notifications. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int meter_set_entitlement(meter_client *c, meter_ref meter, const char *customer_id, const char *limit, int soft,
                          meter_error *error)
{
    mc_arena a = {0};
    Meterd__V1__SetEntitlementRequest req = METERD__V1__SET_ENTITLEMENT_REQUEST__INIT;
    req.meter = mc_ref_to_pb(&a, meter);
    req.customer_id = mc_str(&a, customer_id);
    req.limit = mc_str(&a, limit);
    req.enforcement = soft ? METERD__V1__ENFORCEMENT__ENFORCEMENT_SOFT : METERD__V1__ENFORCEMENT__ENFORCEMENT_HARD;
    return mc_call_for_status(c, MC_METHOD_SET_ENTITLEMENT, &a, &req.base, &meterd__v1__set_entitlement_response__descriptor, error);
}

int meter_check_entitlement(meter_client *c, meter_ref meter, const char *customer_id, int64_t at_ms,
                            meter_entitlement_check *check, meter_error *error)
{
    if (!check)
        return mc_fail(error, METER_INVALID_ARGUMENT, "", "check is NULL");
    memset(check, 0, sizeof *check);
    mc_arena a = {0};
    Meterd__V1__CheckEntitlementRequest req = METERD__V1__CHECK_ENTITLEMENT_REQUEST__INIT;
    req.meter = mc_ref_to_pb(&a, meter);
    req.customer_id = mc_str(&a, customer_id);
    req.at_ms = at_ms;
    Meterd__V1__CheckEntitlementResponse *resp;
    int rc = mc_call_with_arena(c, MC_METHOD_CHECK_ENTITLEMENT, &a, &req.base, &meterd__v1__check_entitlement_response__descriptor, (ProtobufCMessage **)&resp, error);
    if (rc)
        return rc;
    check->has_access = resp->has_access ? 1 : 0;
    check->is_default = resp->is_default ? 1 : 0;
    check->soft = resp->enforcement == METERD__V1__ENFORCEMENT__ENFORCEMENT_SOFT;
    mc_copy_text(check->usage, sizeof check->usage, resp->usage);
    mc_copy_text(check->limit, sizeof check->limit, resp->limit);
    mc_copy_text(check->granted, sizeof check->granted, resp->granted);
    mc_copy_text(check->remaining, sizeof check->remaining, resp->remaining);
    mc_copy_text(check->overage, sizeof check->overage, resp->overage);
    check->period_start_ms = resp->period_start_ms;
    check->period_end_ms = resp->period_end_ms;
    meterd__v1__check_entitlement_response__free_unpacked(resp, NULL);
    return 0;
}

int meter_remove_entitlement(meter_client *c, meter_ref meter, const char *customer_id, meter_error *error)
{
    mc_arena a = {0};
    Meterd__V1__RemoveEntitlementRequest req = METERD__V1__REMOVE_ENTITLEMENT_REQUEST__INIT;
    req.meter = mc_ref_to_pb(&a, meter);
    req.customer_id = mc_str(&a, customer_id);
    return mc_call_for_status(c, MC_METHOD_REMOVE_ENTITLEMENT, &a, &req.base, &meterd__v1__remove_entitlement_response__descriptor, error);
}

static void grant_from_pb(const Meterd__V1__Grant *pb, meter_grant *out)
{
    memset(out, 0, sizeof *out);
    if (!pb)
        return;
    mc_copy_text(out->id, sizeof out->id, pb->id);
    mc_copy_text(out->meter_id, sizeof out->meter_id, pb->meter_id);
    mc_copy_text(out->customer_id, sizeof out->customer_id, pb->customer_id);
    mc_copy_text(out->amount, sizeof out->amount, pb->amount);
    out->effective_from_ms = pb->effective_from_ms;
    out->expires_at_ms = pb->expires_at_ms;
    out->created_at_ms = pb->created_at_ms;
}

int meter_add_grant(meter_client *c, meter_ref meter, const char *customer_id, const char *amount,
                    int64_t effective_from_ms, int64_t expires_at_ms, meter_grant *out, meter_error *error)
{
    if (out)
        memset(out, 0, sizeof *out);
    mc_arena a = {0};
    Meterd__V1__AddGrantRequest req = METERD__V1__ADD_GRANT_REQUEST__INIT;
    req.meter = mc_ref_to_pb(&a, meter);
    req.customer_id = mc_str(&a, customer_id);
    req.amount = mc_str(&a, amount);
    req.effective_from_ms = effective_from_ms;
    req.expires_at_ms = expires_at_ms;
    Meterd__V1__AddGrantResponse *resp;
    int rc = mc_call_with_arena(c, MC_METHOD_ADD_GRANT, &a, &req.base, &meterd__v1__add_grant_response__descriptor, (ProtobufCMessage **)&resp, error);
    if (rc)
        return rc;
    if (out)
        grant_from_pb(resp->grant, out);
    meterd__v1__add_grant_response__free_unpacked(resp, NULL);
    return 0;
}

int meter_remove_grant(meter_client *c, const char *grant_id, meter_error *error)
{
    Meterd__V1__RemoveGrantRequest req = METERD__V1__REMOVE_GRANT_REQUEST__INIT;
    req.id = (char *)(grant_id ? grant_id : "");
    return mc_call_for_status(c, MC_METHOD_REMOVE_GRANT, NULL, &req.base, &meterd__v1__remove_grant_response__descriptor, error);
}

static void rule_from_pb(const Meterd__V1__ThresholdRule *pb, meter_threshold_rule *out)
{
    memset(out, 0, sizeof *out);
    if (!pb)
        return;
    mc_copy_text(out->id, sizeof out->id, pb->id);
    mc_copy_text(out->meter_id, sizeof out->meter_id, pb->meter_id);
    mc_copy_text(out->customer_id, sizeof out->customer_id, pb->customer_id);
    if (pb->level_case == METERD__V1__THRESHOLD_RULE__LEVEL_VALUE)
        mc_copy_text(out->value, sizeof out->value, pb->value);
    else if (pb->level_case == METERD__V1__THRESHOLD_RULE__LEVEL_PERCENT)
        mc_copy_text(out->percent, sizeof out->percent, pb->percent);
    out->created_at_ms = pb->created_at_ms;
}

int meter_add_threshold_rule(meter_client *c, meter_ref meter, const char *customer_id, const char *value,
                             const char *percent, meter_threshold_rule *out, meter_error *error)
{
    if (out)
        memset(out, 0, sizeof *out);
    if ((value == NULL) == (percent == NULL))
        return mc_fail(error, METER_INVALID_ARGUMENT, "", "give exactly one of value and percent");
    mc_arena a = {0};
    Meterd__V1__AddThresholdRuleRequest req = METERD__V1__ADD_THRESHOLD_RULE_REQUEST__INIT;
    req.meter = mc_ref_to_pb(&a, meter);
    req.customer_id = mc_str(&a, customer_id);
    if (value) {
        req.level_case = METERD__V1__ADD_THRESHOLD_RULE_REQUEST__LEVEL_VALUE;
        req.value = mc_str(&a, value);
    } else {
        req.level_case = METERD__V1__ADD_THRESHOLD_RULE_REQUEST__LEVEL_PERCENT;
        req.percent = mc_str(&a, percent);
    }
    Meterd__V1__AddThresholdRuleResponse *resp;
    int rc = mc_call_with_arena(c, MC_METHOD_ADD_THRESHOLD_RULE, &a, &req.base, &meterd__v1__add_threshold_rule_response__descriptor, (ProtobufCMessage **)&resp, error);
    if (rc)
        return rc;
    if (out)
        rule_from_pb(resp->rule, out);
    meterd__v1__add_threshold_rule_response__free_unpacked(resp, NULL);
    return 0;
}

int meter_list_threshold_rules(meter_client *c, meter_ref meter, meter_threshold_rule **rules, size_t *n,
                               meter_error *error)
{
    if (!rules || !n)
        return mc_fail(error, METER_INVALID_ARGUMENT, "", "rules and n must not be NULL");
    *rules = NULL;
    *n = 0;
    mc_arena a = {0};
    Meterd__V1__ListThresholdRulesRequest req = METERD__V1__LIST_THRESHOLD_RULES_REQUEST__INIT;
    if (meter.id || meter.event_name)
        req.meter = mc_ref_to_pb(&a, meter);
    Meterd__V1__ListThresholdRulesResponse *resp;
    int rc = mc_call_with_arena(c, MC_METHOD_LIST_THRESHOLD_RULES, &a, &req.base, &meterd__v1__list_threshold_rules_response__descriptor, (ProtobufCMessage **)&resp, error);
    if (rc)
        return rc;
    if (resp->n_rules) {
        *rules = calloc(resp->n_rules, sizeof **rules);
        if (!*rules) {
            meterd__v1__list_threshold_rules_response__free_unpacked(resp, NULL);
            return mc_fail(error, METER_INTERNAL, "", "out of memory");
        }
        for (size_t i = 0; i < resp->n_rules; i++)
            rule_from_pb(resp->rules[i], &(*rules)[i]);
        *n = resp->n_rules;
    }
    meterd__v1__list_threshold_rules_response__free_unpacked(resp, NULL);
    return 0;
}

void meter_threshold_rules_free(meter_threshold_rule *rules)
{
    free(rules);
}

int meter_remove_threshold_rule(meter_client *c, const char *rule_id, meter_error *error)
{
    Meterd__V1__RemoveThresholdRuleRequest req = METERD__V1__REMOVE_THRESHOLD_RULE_REQUEST__INIT;
    req.id = (char *)(rule_id ? rule_id : "");
    return mc_call_for_status(c, MC_METHOD_REMOVE_THRESHOLD_RULE, NULL, &req.base, &meterd__v1__remove_threshold_rule_response__descriptor, error);
}

int meter_list_notifications(meter_client *c, uint64_t after_number, uint32_t limit, uint32_t wait_ms,
                             meter_notification **out, size_t *n, uint64_t *last_number, meter_error *error)
{
    if (!out || !n)
        return mc_fail(error, METER_INVALID_ARGUMENT, "", "out and n must not be NULL");
    *out = NULL;
    *n = 0;
    if (last_number)
        *last_number = 0;
    Meterd__V1__ListNotificationsRequest req = METERD__V1__LIST_NOTIFICATIONS_REQUEST__INIT;
    req.after_number = after_number;
    req.limit = limit;
    req.wait_ms = wait_ms;
    Meterd__V1__ListNotificationsResponse *resp;
    int rc = mc_call(c, MC_METHOD_LIST_NOTIFICATIONS, &req.base, &meterd__v1__list_notifications_response__descriptor, (ProtobufCMessage **)&resp, error);
    if (rc)
        return rc;
    if (resp->n_notifications) {
        *out = calloc(resp->n_notifications, sizeof **out);
        if (!*out) {
            meterd__v1__list_notifications_response__free_unpacked(resp, NULL);
            return mc_fail(error, METER_INTERNAL, "", "out of memory");
        }
        for (size_t i = 0; i < resp->n_notifications; i++) {
            const Meterd__V1__Notification *pb = resp->notifications[i];
            meter_notification *item = &(*out)[i];
            item->number = pb->number;
            mc_copy_text(item->rule_id, sizeof item->rule_id, pb->rule_id);
            mc_copy_text(item->meter_id, sizeof item->meter_id, pb->meter_id);
            mc_copy_text(item->customer_id, sizeof item->customer_id, pb->customer_id);
            mc_copy_text(item->threshold, sizeof item->threshold, pb->threshold);
            mc_copy_text(item->usage, sizeof item->usage, pb->usage);
            item->period_start_ms = pb->period_start_ms;
            item->period_end_ms = pb->period_end_ms;
            item->sequence = pb->sequence;
            item->at_ms = pb->at_ms;
        }
        *n = resp->n_notifications;
    }
    if (last_number)
        *last_number = resp->last_number;
    meterd__v1__list_notifications_response__free_unpacked(resp, NULL);
    return 0;
}

void meter_notifications_free(meter_notification *notifications)
{
    free(notifications);
}
