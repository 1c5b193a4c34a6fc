/* Entitlements.SetEntitlement and Entitlements.CheckEntitlement. */
#include "internal.h"

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
    Meterd__V1__SetEntitlementResponse *resp;
    int rc = mc_call_with_arena(c, MC_METHOD_SET_ENTITLEMENT, &a, &req.base, &meterd__v1__set_entitlement_response__descriptor, (ProtobufCMessage **)&resp, error);
    if (rc)
        return rc;
    meterd__v1__set_entitlement_response__free_unpacked(resp, NULL);
    return 0;
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
