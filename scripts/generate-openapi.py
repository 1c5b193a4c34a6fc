#!/usr/bin/env python3
"""Writes docs/openapi.json and Sources/MeterHTTP/API/OpenAPIDocument+Text.swift (the same text
as a Swift string, compiled into meterd so that the binary needs no resource bundle next to it).

The OpenAPI 3.1 description of meterd's HTTP JSON API (docs/http-api.md). Edit here, run
`python3 scripts/generate-openapi.py`, commit both files; MeterHTTPTests checks that the
served document equals docs/openapi.json.
"""
import json, os

problem_ref = {"$ref": "#/components/responses/Problem"}
def problems(*codes):
    return {str(code): problem_ref for code in codes}

meter_ref = {"$ref": "#/components/schemas/Meter"}
api_key_ref = {"$ref": "#/components/schemas/ApiKey"}
api_key = {
    "type": "object",
    "description": "An API key; never its secret (meterd keeps only a SHA-256 of it).",
    "required": ["id", "name", "role", "createdAt", "createdBy", "revokedAt"],
    "properties": {
        "id": {"type": "string"}, "name": {"type": "string"},
        "role": {"type": "string", "enum": ["admin", "ingest", "read"]},
        "createdAt": {"type": "string", "format": "date-time"},
        "createdBy": {"type": "string", "description": "Who created it: `key key_1`, `uid 1000` or `bootstrap`."},
        "revokedAt": {"type": ["string", "null"], "format": "date-time"},
    },
}
meter_path_parameter = {
    "name": "meter", "in": "path", "required": True,
    "description": "The meter's id (`mtr_1`) or its event name (`tokens_used`).",
    "schema": {"type": "string", "minLength": 1},
}
decimal = {"type": "string", "description": "An exact decimal as text (at most 9 fractional digits), never a JSON number.",
           "pattern": "^-?[0-9]+(\\.[0-9]+)?$"}
timestamp = {"type": "string", "format": "date-time"}
nullable_string = {"type": ["string", "null"]}
decimal_input = {"type": ["string", "number"], "description": "An exact decimal (at most 9 fractional digits), as a string or a JSON number read exactly."}

cloud_event = {
    "type": "object",
    "description": "A usage event as a CloudEvent (OpenMeter's ingest shape).",
    "required": ["specversion", "id", "source", "type", "subject"],
    "properties": {
        "specversion": {"type": "string", "const": "1.0"},
        "id": {"type": "string", "description": "The idempotency key: the same id inside the dedup window is counted once."},
        "source": {"type": "string"},
        "type": {"type": "string", "description": "The event name a meter counts (`tokens_used`)."},
        "subject": {"type": "string", "description": "The customer."},
        "time": {"type": "string", "format": "date-time", "description": "When the usage happened, RFC 3339; absent: the arrival time."},
        "data": {"type": ["object", "null"], "description": "Properties: strings, numbers (read exactly, never via binary floating point) or booleans.",
                 "additionalProperties": {"type": ["string", "number", "boolean", "null"]}},
        "datacontenttype": {"type": "string"},
        "dataschema": {"type": "string"},
    },
}

event_result = {
    "type": "object",
    "required": ["id", "status"],
    "properties": {
        "index": {"type": "integer", "description": "Position in the batch."},
        "id": nullable_string,
        "status": {"type": "string", "enum": ["ACCEPTED", "DUPLICATE", "REJECTED"]},
        "outcome": {"type": "string", "enum": ["COUNTED", "NO_ACTIVE_METER", "FILTERED_OUT", "MISSING_VALUE", "OVERFLOW"]},
        "reason": {"type": "string", "description": "The rejection code, as in the binary protocol (`TIMESTAMP_TOO_OLD`, ...)."},
        "message": {"type": "string"},
        "entitlement": {"type": "object", "required": ["hasAccess", "usage", "limit", "remaining", "crossed"],
                        "description": "With ?entitlement_effects=true, for an accepted event on a meter with an entitlement for its customer: the entitlement right after the event.",
                        "properties": {
                            "hasAccess": {"type": "boolean"},
                            "usage": {"type": "string"}, "limit": {"type": "string"}, "remaining": {"type": "string"},
                            "crossed": {"type": "boolean", "description": "This event took usage from below the limit to the limit or above."}}},
    },
}

meter = {
    "type": "object",
    "required": ["id", "eventName", "displayName", "status", "filters", "aggregation", "valueProperty", "multiplier", "reset",
                 "billingPeriod", "anchor", "groupBy", "createdAt", "archivedAt", "counters", "backfill"],
    "properties": {
        "id": {"type": "string"},
        "eventName": {"type": "string"},
        "displayName": {"type": "string"},
        "status": {"type": "string", "enum": ["ACTIVE", "ARCHIVED"]},
        "filters": {"type": "array", "items": {"$ref": "#/components/schemas/Filter"}},
        "aggregation": {"$ref": "#/components/schemas/Aggregation"},
        "valueProperty": nullable_string,
        "multiplier": {"type": ["string", "null"]},
        "reset": {"type": "string", "enum": ["CUMULATIVE", "PERIODIC"]},
        "billingPeriod": {"type": ["string", "null"], "enum": ["DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "ANNUAL", None]},
        "anchor": {"type": ["string", "null"]},
        "groupBy": {"type": "array", "items": {"type": "string"}},
        "createdAt": timestamp,
        "archivedAt": {"type": ["string", "null"]},
        "counters": {"type": "object", "required": ["counted", "filteredOut", "missingValue", "overflowed"],
                     "properties": {k: {"type": "integer", "minimum": 0} for k in ["counted", "filteredOut", "missingValue", "overflowed"]}},
        "backfill": {"type": "object", "required": ["complete", "eventsCounted", "targetSequence", "completedThroughSequence"],
                     "properties": {"complete": {"type": "boolean"},
                                    **{k: {"type": "integer", "minimum": 0} for k in ["eventsCounted", "targetSequence", "completedThroughSequence"]}}},
    },
}

new_meter = {
    "type": "object",
    "description": "A meter as the product guide defines it. Everything but displayName is fixed once created.",
    "required": ["eventName", "displayName", "aggregation", "reset"],
    "additionalProperties": False,
    "properties": {
        "eventName": {"type": "string", "description": "1-64 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit; unique among the tenant's active meters."},
        "displayName": {"type": "string"},
        "filters": {"type": "array", "items": {"$ref": "#/components/schemas/Filter"}},
        "aggregation": {"$ref": "#/components/schemas/Aggregation"},
        "valueProperty": {"type": "string", "description": "The property aggregated; required for SUM, AVG, MIN, MAX, LATEST, COUNT_UNIQUE; absent for COUNT."},
        "multiplier": {"type": "string", "description": "Optional positive decimal factor applied to a SUM."},
        "reset": {"type": "string", "enum": ["CUMULATIVE", "PERIODIC"]},
        "billingPeriod": {"type": "string", "enum": ["DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "ANNUAL"], "description": "Required when PERIODIC, absent when CUMULATIVE."},
        "anchor": {"type": "string", "format": "date-time"},
        "groupBy": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
    },
}

usage_row = {
    "type": "object",
    "required": ["value", "eventCount", "windowStart", "windowEnd", "subject", "groupBy"],
    "properties": {
        "value": {"oneOf": [decimal, {"type": "null"}], "description": "Null when no event had a value (MIN, MAX, AVG, LATEST)."},
        "eventCount": {"type": "integer", "minimum": 0},
        "windowStart": timestamp,
        "windowEnd": timestamp,
        "subject": nullable_string,
        "groupBy": {"type": "object", "additionalProperties": nullable_string},
    },
}

document = {
    "openapi": "3.1.0",
    "info": {
        "title": "meterd HTTP API",
        "version": "1.0.0",
        "description": "Meters, CloudEvents ingest and usage queries on the same engine as meterd's binary protocol. "
                       "Decimals are strings. Errors are RFC 9457 problem+json with the binary protocol's status name (`code`), "
                       "rejection reason (`reason`) and message (`detail`). See docs/http-api.md.",
    },
    "servers": [{"url": "http://127.0.0.1:7880"}],
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/meters": {
            "get": {
                "operationId": "listMeters", "summary": "List the tenant's meters",
                "parameters": [{"name": "includeArchived", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]}}],
                "responses": {"200": {"description": "The meters", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": meter_ref}}}}}},
                    **problems(400, 401, 403, 503)},
            },
            "post": {
                "operationId": "createMeter", "summary": "Create a meter (admin)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewMeter"}}}},
                "responses": {"201": {"description": "Created", "headers": {"Location": {"schema": {"type": "string"}}},
                                      "content": {"application/json": {"schema": meter_ref}}},
                              **problems(400, 401, 403, 409, 413, 429, 503)},
            },
        },
        "/api/v1/meters/{meter}": {
            "parameters": [meter_path_parameter],
            "get": {"operationId": "getMeter", "summary": "One meter",
                    "responses": {"200": {"description": "The meter", "content": {"application/json": {"schema": meter_ref}}}, **problems(400, 401, 403, 404, 503)}},
            "patch": {"operationId": "updateMeter", "summary": "Change the display name (admin); anything else is IMMUTABLE_FIELD",
                      "requestBody": {"required": True, "content": {"application/json": {"schema": {
                          "type": "object", "required": ["displayName"], "properties": {"displayName": {"type": "string", "minLength": 1}}}}}},
                      "responses": {"200": {"description": "The renamed meter", "content": {"application/json": {"schema": meter_ref}}},
                                    **problems(400, 401, 403, 404, 413, 429, 503)}},
            "delete": {"operationId": "archiveMeter", "summary": "Archive the meter (admin): frees its event name, usage stays queryable",
                       "responses": {"200": {"description": "The archived meter", "content": {"application/json": {"schema": meter_ref}}},
                                     **problems(400, 401, 403, 404, 429, 503)}},
        },
        "/api/v1/meters/{meter}/query": {
            "parameters": [meter_path_parameter],
            "get": {
                "operationId": "queryMeter", "summary": "Usage in windows over [from, to)",
                "parameters": [
                    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date-time"}, "description": "Whole minute; default 24 hours before `to`."},
                    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date-time"}, "description": "Whole minute; default the next whole minute."},
                    {"name": "windowSize", "in": "query", "schema": {"type": "string", "enum": ["MINUTE", "HOUR", "DAY", "MONTH", "15MIN", "30MIN", "3HOUR", "6HOUR", "12HOUR", "WEEK"]}},
                    {"name": "subject", "in": "query", "schema": {"type": "string"}, "description": "One customer."},
                    {"name": "groupBy", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}, "style": "form", "explode": True,
                     "description": "The meter's group-by keys, and `subject` for one row per customer."},
                ],
                "responses": {"200": {"description": "Usage rows", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["meterId", "eventName", "aggregation", "from", "to", "windowSize", "data"],
                    "properties": {"meterId": {"type": "string"}, "eventName": {"type": "string"}, "aggregation": {"$ref": "#/components/schemas/Aggregation"},
                                   "from": timestamp, "to": timestamp, "windowSize": nullable_string,
                                   "data": {"type": "array", "items": usage_row}}}}}},
                              **problems(400, 401, 403, 404, 503)},
            },
        },
        "/api/v1/keys": {
            "get": {
                "operationId": "listKeys", "summary": "The tenant's API keys (admin)",
                "parameters": [{"name": "includeRevoked", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]}}],
                "responses": {"200": {"description": "The keys", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": api_key_ref}}}}}},
                    **problems(400, 401, 403, 503)},
            },
            "post": {
                "operationId": "createKey", "summary": "Create an API key (admin); its secret is in this answer only",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["name", "role"], "additionalProperties": False,
                    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 128},
                                   "role": {"type": "string", "enum": ["admin", "ingest", "read"]}}}}}},
                "responses": {"201": {"description": "Created", "headers": {"Location": {"schema": {"type": "string"}}},
                                      "content": {"application/json": {"schema": {
                                          "type": "object", "required": ["key", "secret"],
                                          "properties": {"key": api_key_ref, "secret": {"type": "string", "description": "Shown once; send it as Authorization: Bearer."}}}}}},
                              **problems(400, 401, 403, 413, 503)},
            },
        },
        "/api/v1/keys/{key}": {
            "parameters": [{"name": "key", "in": "path", "required": True, "description": "The key's id (`key_2`).", "schema": {"type": "string", "minLength": 1}}],
            "delete": {"operationId": "revokeKey", "summary": "Revoke the key (admin): refused from the next request on, on every listener",
                       "responses": {"200": {"description": "The revoked key", "content": {"application/json": {"schema": api_key_ref}}},
                                     **problems(400, 401, 403, 404, 503)}},
        },
        "/api/v1/audit": {
            "get": {
                "operationId": "listAudit", "summary": "The tenant's audit trail of admin actions, oldest first (admin)",
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}, "description": "Most entries (default 1000)."},
                               {"name": "keyId", "in": "query", "schema": {"type": "string"}, "description": "Only actions by this key."}],
                "responses": {"200": {"description": "Audit entries", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {
                        "type": "object", "required": ["sequence", "at", "actor", "action", "targetId", "detail"],
                        "properties": {"sequence": {"type": "integer"}, "at": {"type": "string", "format": "date-time"}, "actor": {"type": "string"},
                                       "action": {"type": "string", "enum": ["meter.create", "meter.update", "meter.archive", "key.create", "key.revoke"]},
                                       "targetId": {"type": "string"}, "detail": {"type": "string"}}}}}}}}},
                    **problems(400, 401, 403, 503)},
            },
        },
        "/api/v1/subjects/{subject}/entitlements/{meter}/value": {
            "parameters": [{"name": "subject", "in": "path", "required": True, "description": "The customer.", "schema": {"type": "string", "minLength": 1}},
                           meter_path_parameter],
            "get": {
                "operationId": "checkEntitlement", "summary": "Whether the customer may use the meter now (read), with usage, limit and balance, from memory",
                "parameters": [{"name": "time", "in": "query", "schema": timestamp, "description": "The instant; default now."}],
                "responses": {"200": {"description": "The entitlement's value", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EntitlementValue"}}}},
                              **problems(400, 401, 403, 404, 503)},
            },
        },
        "/api/v1/entitlements": {
            "get": {
                "operationId": "listEntitlements", "summary": "The tenant's entitlements and grants (admin)",
                "parameters": [{"name": "meter", "in": "query", "schema": {"type": "string", "minLength": 1}, "description": "Only this meter (id or event name)."}],
                "responses": {"200": {"description": "Entitlements and grants", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["entitlements", "grants"],
                    "properties": {"entitlements": {"type": "array", "items": {"$ref": "#/components/schemas/Entitlement"}},
                                   "grants": {"type": "array", "items": {"$ref": "#/components/schemas/Grant"}}}}}}},
                              **problems(400, 401, 403, 404, 503)},
            },
            "put": {
                "operationId": "setEntitlement", "summary": "Set (create or replace) an entitlement (admin); no subject: the tenant-wide default",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["meter", "limit"], "additionalProperties": False,
                    "properties": {"meter": {"type": "string", "minLength": 1}, "subject": {"type": ["string", "null"]},
                                   "limit": decimal_input, "enforcement": {"type": "string", "enum": ["HARD", "SOFT"]}}}}}},
                "responses": {"200": {"description": "The entitlement", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Entitlement"}}}},
                              **problems(400, 401, 403, 404, 413, 503)},
            },
            "delete": {
                "operationId": "removeEntitlement", "summary": "Remove an entitlement (admin); no subject: the tenant-wide default",
                "parameters": [{"name": "meter", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1}},
                               {"name": "subject", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The removed entitlement", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Entitlement"}}}},
                              **problems(400, 401, 403, 404, 503)},
            },
        },
        "/api/v1/grants": {
            "post": {
                "operationId": "addGrant", "summary": "Add a grant that raises a customer's limit (admin)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["meter", "subject", "amount"], "additionalProperties": False,
                    "properties": {"meter": {"type": "string", "minLength": 1}, "subject": {"type": "string", "minLength": 1},
                                   "amount": decimal_input, "effectiveFrom": timestamp, "expiresAt": timestamp}}}}},
                "responses": {"201": {"description": "The grant", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Grant"}}}},
                              **problems(400, 401, 403, 404, 413, 503)},
            },
        },
        "/api/v1/grants/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}],
            "delete": {"operationId": "removeGrant", "summary": "Remove a grant (admin)",
                       "responses": {"200": {"description": "The removed grant", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Grant"}}}},
                                     **problems(400, 401, 403, 404, 503)}},
        },
        "/api/v1/thresholds": {
            "get": {
                "operationId": "listThresholdRules", "summary": "The tenant's threshold rules (admin)",
                "parameters": [{"name": "meter", "in": "query", "schema": {"type": "string", "minLength": 1}}],
                "responses": {"200": {"description": "Threshold rules", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/ThresholdRule"}}}}}}},
                              **problems(400, 401, 403, 404, 503)},
            },
            "post": {
                "operationId": "addThresholdRule", "summary": "Add a threshold rule (admin): a usage value or a percent of the entitlement; no subject: every customer",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["meter"], "additionalProperties": False,
                    "properties": {"meter": {"type": "string", "minLength": 1}, "subject": {"type": ["string", "null"]},
                                   "value": decimal_input, "percent": decimal_input}}}}},
                "responses": {"201": {"description": "The rule", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ThresholdRule"}}}},
                              **problems(400, 401, 403, 404, 413, 503)},
            },
        },
        "/api/v1/thresholds/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}],
            "delete": {"operationId": "removeThresholdRule", "summary": "Remove a threshold rule (admin)",
                       "responses": {"200": {"description": "The removed rule", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ThresholdRule"}}}},
                                     **problems(400, 401, 403, 404, 503)}},
        },
        "/api/v1/notifications": {
            "get": {
                "operationId": "listNotifications", "summary": "Threshold notifications numbered above `after` (read), waiting up to `waitMs` for one",
                "parameters": [
                    {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}, "description": "Resume after this number (default 0)."},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 1000}, "description": "At most this many (default 100)."},
                    {"name": "waitMs", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 2000},
                     "description": "Wait up to this long when there is none yet (default 0; loop for longer waits)."},
                ],
                "responses": {"200": {"description": "Notifications, oldest first", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["notifications", "lastNumber"],
                    "properties": {"notifications": {"type": "array", "items": {"$ref": "#/components/schemas/Notification"}},
                                   "lastNumber": {"type": "integer", "minimum": 0, "description": "Resume from this number."}}}}}},
                              **problems(400, 401, 403, 503)},
            },
        },
        "/api/v1/webhooks": {
            "get": {
                "operationId": "getWebhookStatus", "summary": "Webhook delivery of the whole server (admin): cursor, counts, dead letters",
                "responses": {"200": {"description": "Webhook status", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["lastNotificationNumber", "enabled"],
                    "properties": {
                        "lastNotificationNumber": {"type": "integer", "minimum": 0},
                        "enabled": {"type": "boolean", "description": "False when meterd runs without --webhook-url (the other members are then absent)."},
                        "url": {"type": "string"}, "deliveredThrough": {"type": "integer"}, "delivered": {"type": "integer"},
                        "failedAttempts": {"type": "integer"}, "deadLettered": {"type": "integer"},
                        "deadLetters": {"type": "array", "items": {"type": "object", "required": ["number", "attempts", "lastError"], "properties": {
                            "number": {"type": "integer"}, "attempts": {"type": "integer"}, "lastError": {"type": "string"}}}}}}}}},
                              **problems(401, 403, 503)},
            },
        },
        "/api/v1/events": {
            "post": {
                "operationId": "ingestEvents", "summary": "Send one event or a batch",
                "parameters": [{"name": "entitlement_effects", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]},
                                "description": "true: each accepted result on a meter with an entitlement for its customer carries `entitlement`."}],
                "requestBody": {"required": True, "content": {
                    "application/cloudevents+json": {"schema": {"$ref": "#/components/schemas/CloudEvent"}},
                    "application/cloudevents-batch+json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/CloudEvent"}, "maxItems": 10000}},
                }},
                "responses": {
                    "200": {"description": "One event's result, or a batch's results in order", "content": {"application/json": {"schema": {"oneOf": [
                        {"$ref": "#/components/schemas/EventResult"},
                        {"type": "object", "required": ["results", "accepted", "duplicates", "rejected"],
                         "properties": {"results": {"type": "array", "items": {"$ref": "#/components/schemas/EventResult"}},
                                        "accepted": {"type": "integer"}, "duplicates": {"type": "integer"}, "rejected": {"type": "integer"}}},
                    ]}}}},
                    **problems(400, 401, 403, 413, 429, 503),
                },
            },
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API key: Authorization: Bearer <secret>. The key decides the tenant and the role."}},
        "responses": {"Problem": {"description": "RFC 9457 problem details", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
        "schemas": {
            "Aggregation": {"type": "string", "enum": ["COUNT", "SUM", "AVG", "MIN", "MAX", "COUNT_UNIQUE", "LATEST"]},
            "Filter": {"type": "object", "required": ["key", "values"], "properties": {"key": {"type": "string"}, "values": {"type": "array", "items": {"type": "string"}}}},
            "Meter": meter,
            "ApiKey": api_key,
            "NewMeter": new_meter,
            "CloudEvent": cloud_event,
            "EventResult": event_result,
            "EntitlementValue": {"type": "object", "required": ["hasAccess", "meterId", "subject", "enforcement", "isDefault", "usage", "limit",
                                                                "granted", "balance", "overage", "periodStart", "periodEnd", "time"],
                                 "properties": {
                "hasAccess": {"type": "boolean", "description": "HARD: usage below the limit; SOFT: always true."},
                "meterId": {"type": "string"}, "subject": {"type": "string"},
                "enforcement": {"type": "string", "enum": ["HARD", "SOFT"]},
                "isDefault": {"type": "boolean", "description": "The tenant-wide default applied."},
                "usage": decimal, "limit": decimal, "granted": decimal,
                "balance": decimal, "overage": decimal,
                "periodStart": {"type": ["string", "null"], "format": "date-time", "description": "Null for a CUMULATIVE meter (lifetime)."},
                "periodEnd": {"type": ["string", "null"], "format": "date-time"},
                "time": timestamp}},
            "ThresholdRule": {"type": "object", "required": ["id", "meterId", "subject", "value", "percent", "createdAt"], "properties": {
                "id": {"type": "string"}, "meterId": {"type": "string"}, "subject": nullable_string,
                "value": nullable_string, "percent": nullable_string, "createdAt": timestamp}},
            "Entitlement": {"type": "object", "required": ["meterId", "subject", "limit", "enforcement", "updatedAt"], "properties": {
                "meterId": {"type": "string"}, "subject": {"type": ["string", "null"], "description": "Null: the tenant-wide default."},
                "limit": decimal, "enforcement": {"type": "string", "enum": ["HARD", "SOFT"]}, "updatedAt": timestamp}},
            "Grant": {"type": "object", "required": ["id", "meterId", "subject", "amount", "effectiveFrom", "expiresAt"], "properties": {
                "id": {"type": "string"}, "meterId": {"type": "string"}, "subject": {"type": "string"}, "amount": decimal,
                "effectiveFrom": timestamp, "expiresAt": {"type": ["string", "null"], "format": "date-time"}}},
            "Notification": {"type": "object", "required": ["number", "ruleId", "meterId", "subject", "threshold", "usage", "periodStart", "periodEnd", "sequence", "time"],
                             "properties": {
                "number": {"type": "integer", "minimum": 1}, "ruleId": {"type": "string"}, "meterId": {"type": "string"}, "subject": {"type": "string"},
                "threshold": decimal, "usage": decimal,
                "periodStart": {"type": ["string", "null"], "format": "date-time"}, "periodEnd": {"type": ["string", "null"], "format": "date-time"},
                "sequence": {"type": "integer"}, "time": timestamp}},
            "Problem": {"type": "object", "required": ["type", "title", "status", "detail", "code", "reason"], "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
                "code": {"type": "string", "description": "The binary protocol's status name (INVALID_ARGUMENT, NOT_FOUND, ...)."},
                "reason": {"type": "string", "description": "meterd's rejection code (METER_ALREADY_EXISTS, ...), empty when not a rejection."}}},
        },
    },
}

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
with open(os.path.join(root, "docs/openapi.json"), "w") as file:
    file.write(text)
assert '"""##' not in text and "\\##" not in text
swift = ("// Generated by scripts/generate-openapi.py from the same document as docs/openapi.json; do not edit.\n\n"
         "extension OpenAPIDocument {\n    static let text = ##\"\"\"\n" + text + "\n\"\"\"##\n}\n")
with open(os.path.join(root, "Sources/MeterHTTP/API/OpenAPIDocument+Text.swift"), "w") as file:
    file.write(swift)
