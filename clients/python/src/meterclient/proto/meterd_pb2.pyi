from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

ACCEPTED: EventStatus
ACTIVE: MeterStatus
AGGREGATION_UNSPECIFIED: Aggregation
ANNUAL: BillingPeriod
ARCHIVED: MeterStatus
AVG: Aggregation
BILLING_PERIOD_UNSPECIFIED: BillingPeriod
COUNT: Aggregation
COUNTED: EventOutcome
COUNT_UNIQUE: Aggregation
CUMULATIVE: ResetMode
DAILY: BillingPeriod
DAY: WindowSize
DESCRIPTOR: _descriptor.FileDescriptor
DUPLICATE: EventStatus
ENFORCEMENT_HARD: Enforcement
ENFORCEMENT_SOFT: Enforcement
ENFORCEMENT_UNSPECIFIED: Enforcement
EVENT_STATUS_UNSPECIFIED: EventStatus
FIFTEEN_MINUTES: WindowSize
FILTERED_OUT: EventOutcome
HOUR: WindowSize
KEY_ROLE_ADMIN: KeyRole
KEY_ROLE_INGEST: KeyRole
KEY_ROLE_READ: KeyRole
KEY_ROLE_UNSPECIFIED: KeyRole
LATEST: Aggregation
MAX: Aggregation
METER_STATUS_UNSPECIFIED: MeterStatus
MIN: Aggregation
MINUTE: WindowSize
MISSING_VALUE: EventOutcome
MONTH: WindowSize
MONTHLY: BillingPeriod
NO_ACTIVE_METER: EventOutcome
OUTCOME_UNSPECIFIED: EventOutcome
OVERFLOW: EventOutcome
PERIODIC: ResetMode
QUARTERLY: BillingPeriod
REJECTED: EventStatus
RESET_UNSPECIFIED: ResetMode
SIX_HOURS: WindowSize
SUM: Aggregation
THIRTY_MINUTES: WindowSize
THREE_HOURS: WindowSize
TWELVE_HOURS: WindowSize
WEEK: WindowSize
WEEKLY: BillingPeriod
WINDOW_UNSPECIFIED: WindowSize

class AddGrantRequest(_message.Message):
    __slots__ = ["amount", "customer_id", "effective_from_ms", "expires_at_ms", "meter"]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    amount: str
    customer_id: str
    effective_from_ms: int
    expires_at_ms: int
    meter: MeterReference
    def __init__(self, meter: _Optional[_Union[MeterReference, _Mapping]] = ..., customer_id: _Optional[str] = ..., amount: _Optional[str] = ..., effective_from_ms: _Optional[int] = ..., expires_at_ms: _Optional[int] = ...) -> None: ...

class AddGrantResponse(_message.Message):
    __slots__ = ["grant"]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    grant: Grant
    def __init__(self, grant: _Optional[_Union[Grant, _Mapping]] = ...) -> None: ...

class AddThresholdRuleRequest(_message.Message):
    __slots__ = ["customer_id", "meter", "percent", "value"]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    meter: MeterReference
    percent: str
    value: str
    def __init__(self, meter: _Optional[_Union[MeterReference, _Mapping]] = ..., customer_id: _Optional[str] = ..., value: _Optional[str] = ..., percent: _Optional[str] = ...) -> None: ...

class AddThresholdRuleResponse(_message.Message):
    __slots__ = ["rule"]
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: ThresholdRule
    def __init__(self, rule: _Optional[_Union[ThresholdRule, _Mapping]] = ...) -> None: ...

class ApiKey(_message.Message):
    __slots__ = ["created_at_ms", "created_by", "id", "name", "revoked_at_ms", "role", "tenant_id"]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    created_at_ms: int
    created_by: str
    id: str
    name: str
    revoked_at_ms: int
    role: KeyRole
    tenant_id: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[_Union[KeyRole, str]] = ..., tenant_id: _Optional[str] = ..., created_at_ms: _Optional[int] = ..., revoked_at_ms: _Optional[int] = ..., created_by: _Optional[str] = ...) -> None: ...

class ArchiveMeterRequest(_message.Message):
    __slots__ = ["meter"]
    METER_FIELD_NUMBER: _ClassVar[int]
    meter: MeterReference
    def __init__(self, meter: _Optional[_Union[MeterReference, _Mapping]] = ...) -> None: ...

class ArchiveMeterResponse(_message.Message):
    __slots__ = ["meter"]
    METER_FIELD_NUMBER: _ClassVar[int]
    meter: Meter
    def __init__(self, meter: _Optional[_Union[Meter, _Mapping]] = ...) -> None: ...

class AuditEntry(_message.Message):
    __slots__ = ["action", "actor", "actor_key_id", "at_ms", "detail", "sequence", "target_id"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTOR_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    action: str
    actor: str
    actor_key_id: str
    at_ms: int
    detail: str
    sequence: int
    target_id: str
    def __init__(self, sequence: _Optional[int] = ..., at_ms: _Optional[int] = ..., actor: _Optional[str] = ..., actor_key_id: _Optional[str] = ..., action: _Optional[str] = ..., target_id: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class Backfill(_message.Message):
    __slots__ = ["complete", "completed_through_sequence", "events_counted", "target_sequence"]
    COMPLETED_THROUGH_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_COUNTED_FIELD_NUMBER: _ClassVar[int]
    TARGET_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    complete: bool
    completed_through_sequence: int
    events_counted: int
    target_sequence: int
    def __init__(self, target_sequence: _Optional[int] = ..., completed_through_sequence: _Optional[int] = ..., events_counted: _Optional[int] = ..., complete: bool = ...) -> None: ...

class CheckEntitlementRequest(_message.Message):
    __slots__ = ["at_ms", "customer_id", "meter"]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    at_ms: int
    customer_id: str
    meter: MeterReference
    def __init__(self, meter: _Optional[_Union[MeterReference, _Mapping]] = ..., customer_id: _Optional[str] = ..., at_ms: _Optional[int] = ...) -> None: ...

class CheckEntitlementResponse(_message.Message):
    __slots__ = ["at_ms", "customer_id", "enforcement", "granted", "has_access", "is_default", "limit", "meter_id", "overage", "period_end_ms", "period_start_ms", "remaining", "usage"]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ENFORCEMENT_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    HAS_ACCESS_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    OVERAGE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_MS_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_MS_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    at_ms: int
    customer_id: str
    enforcement: Enforcement
    granted: str
    has_access: bool
    is_default: bool
    limit: str
    meter_id: str
    overage: str
    period_end_ms: int
    period_start_ms: int
    remaining: str
    usage: str
    def __init__(self, has_access: bool = ..., meter_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., enforcement: _Optional[_Union[Enforcement, str]] = ..., is_default: bool = ..., usage: _Optional[str] = ..., limit: _Optional[str] = ..., granted: _Optional[str] = ..., remaining: _Optional[str] = ..., overage: _Optional[str] = ..., period_start_ms: _Optional[int] = ..., period_end_ms: _Optional[int] = ..., at_ms: _Optional[int] = ...) -> None: ...

class CreateApiKeyRequest(_message.Message):
    __slots__ = ["name", "role"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: KeyRole
    def __init__(self, name: _Optional[str] = ..., role: _Optional[_Union[KeyRole, str]] = ...) -> None: ...

class CreateApiKeyResponse(_message.Message):
    __slots__ = ["key", "secret"]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    key: ApiKey
    secret: str
    def __init__(self, key: _Optional[_Union[ApiKey, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class CreateMeterRequest(_message.Message):
    __slots__ = ["definition"]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    definition: MeterDefinition
    def __init__(self, definition: _Optional[_Union[MeterDefinition, _Mapping]] = ...) -> None: ...

class CreateMeterResponse(_message.Message):
    __slots__ = ["meter"]
    METER_FIELD_NUMBER: _ClassVar[int]
    meter: Meter
    def __init__(self, meter: _Optional[_Union[Meter, _Mapping]] = ...) -> None: ...

class CurrentUsageRequest(_message.Message):
    __slots__ = ["at_ms", "customer_id", "meter", "partitions"]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    at_ms: int
    customer_id: str
    meter: MeterReference
    partitions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, meter: _Optional[_Union[MeterReference, _Mapping]] = ..., customer_id: _Optional[str] = ..., at_ms: _Optional[int] = ..., partitions: _Optional[_Iterable[int]] = ...) -> None: ...

class CurrentUsageResponse(_message.Message):
    __slots__ = ["meter", "row"]
    METER_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    meter: Meter
    row: UsageRow
    def __init__(self, meter: _Optional[_Union[Meter, _Mapping]] = ..., row: _Optional[_Union[UsageRow, _Mapping]] = ...) -> None: ...

class Entitlement(_message.Message):
    __slots__ = ["customer_id", "enforcement", "limit", "meter_id", "updated_at_ms"]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ENFORCEMENT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    enforcement: Enforcement
    limit: str
    meter_id: str
    updated_at_ms: int
    def __init__(self, meter_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., limit: _Optional[str] = ..., enforcement: _Optional[_Union[Enforcement, str]] = ..., updated_at_ms: _Optional[int] = ...) -> None: ...

class EntitlementEffect(_message.Message):
    __slots__ = ["crossed", "has_access", "limit", "remaining", "usage"]
    CROSSED_FIELD_NUMBER: _ClassVar[int]
    HAS_ACCESS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    crossed: bool
    has_access: bool
    limit: str
    remaining: str
    usage: str
    def __init__(self, has_access: bool = ..., usage: _Optional[str] = ..., limit: _Optional[str] = ..., remaining: _Optional[str] = ..., crossed: bool = ...) -> None: ...

class ErrorDetail(_message.Message):
    __slots__ = ["code", "message", "reason"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    reason: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ["customer_id", "event_id", "event_name", "properties", "source", "timestamp_ms"]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    event_id: str
    event_name: str
    properties: _containers.RepeatedCompositeFieldContainer[Property]
    source: str
    timestamp_ms: int
    def __init__(self, event_id: _Optional[str] = ..., event_name: _Optional[str] = ..., customer_id: _Optional[str] = ..., timestamp_ms: _Optional[int] = ..., properties: _Optional[_Iterable[_Union[Property, _Mapping]]] = ..., source: _Optional[str] = ...) -> None: ...

class EventResult(_message.Message):
    __slots__ = ["entitlement", "message", "outcome", "reason", "status"]
    ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    entitlement: EntitlementEffect
    message: str
    outcome: EventOutcome
    reason: str
    status: EventStatus
    def __init__(self, status: _Optional[_Union[EventStatus, str]] = ..., outcome: _Optional[_Union[EventOutcome, str]] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., entitlement: _Optional[_Union[EntitlementEffect, _Mapping]] = ...) -> None: ...

class GetMeterRequest(_message.Message):
    __slots__ = ["meter"]
    METER_FIELD_NUMBER: _ClassVar[int]
    meter: MeterReference
    def __init__(self, meter: _Optional[_Union[MeterReference, _Mapping]] = ...) -> None: ...

class GetMeterResponse(_message.Message):
    __slots__ = ["meter"]
    METER_FIELD_NUMBER: _ClassVar[int]
    meter: Meter
    def __init__(self, meter: _Optional[_Union[Meter, _Mapping]] = ...) -> None: ...

class GetWebhookStatusRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetWebhookStatusResponse(_message.Message):
    __slots__ = ["dead_lettered", "dead_letters", "delivered", "delivered_through", "enabled", "failed_attempts", "last_notification_number", "url"]
    DEAD_LETTERED_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTERS_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_THROUGH_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    FAILED_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_NOTIFICATION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    dead_lettered: int
    dead_letters: _containers.RepeatedCompositeFieldContainer[WebhookDeadLetter]
    delivered: int
    delivered_through: int
    enabled: bool
    failed_attempts: int
    last_notification_number: int
    url: str
    def __init__(self, enabled: bool = ..., url: _Optional[str] = ..., delivered_through: _Optional[int] = ..., delivered: _Optional[int] = ..., failed_attempts: _Optional[int] = ..., dead_lettered: _Optional[int] = ..., dead_letters: _Optional[_Iterable[_Union[WebhookDeadLetter, _Mapping]]] = ..., last_notification_number: _Optional[int] = ...) -> None: ...

class GoAway(_message.Message):
    __slots__ = ["last_stream_id", "reason"]
    LAST_STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    last_stream_id: int
    reason: str
    def __init__(self, reason: _Optional[str] = ..., last_stream_id: _Optional[int] = ...) -> None: ...

class Grant(_message.Message):
    __slots__ = ["amount", "created_at_ms", "customer_id", "effective_from_ms", "expires_at_ms", "id", "meter_id"]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    amount: str
    created_at_ms: int
    customer_id: str
    effective_from_ms: int
    expires_at_ms: int
    id: str
    meter_id: str
    def __init__(self, id: _Optional[str] = ..., meter_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., amount: _Optional[str] = ..., effective_from_ms: _Optional[int] = ..., expires_at_ms: _Optional[int] = ..., created_at_ms: _Optional[int] = ...) -> None: ...

class GroupValue(_message.Message):
    __slots__ = ["key", "present", "value"]
    KEY_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    present: bool
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ..., present: bool = ...) -> None: ...

class Handshake(_message.Message):
    __slots__ = ["client_name", "credential", "max_frame_bytes", "protocol_version", "tenant_id"]
    CLIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAME_BYTES_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    client_name: str
    credential: str
    max_frame_bytes: int
    protocol_version: int
    tenant_id: str
    def __init__(self, protocol_version: _Optional[int] = ..., client_name: _Optional[str] = ..., tenant_id: _Optional[str] = ..., credential: _Optional[str] = ..., max_frame_bytes: _Optional[int] = ...) -> None: ...

class HandshakeAck(_message.Message):
    __slots__ = ["max_batch_events", "max_frame_bytes", "max_in_flight", "principal", "protocol_version", "role", "server_streams", "server_version", "tenant_id"]
    MAX_BATCH_EVENTS_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAME_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SERVER_STREAMS_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    max_batch_events: int
    max_frame_bytes: int
    max_in_flight: int
    principal: str
    protocol_version: int
    role: KeyRole
    server_streams: bool
    server_version: str
    tenant_id: str
    def __init__(self, protocol_version: _Optional[int] = ..., server_version: _Optional[str] = ..., max_frame_bytes: _Optional[int] = ..., max_batch_events: _Optional[int] = ..., max_in_flight: _Optional[int] = ..., tenant_id: _Optional[str] = ..., role: _Optional[_Union[KeyRole, str]] = ..., principal: _Optional[str] = ..., server_streams: bool = ...) -> None: ...

class HealthCheckRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class HealthCheckResponse(_message.Message):
    __slots__ = ["message", "status"]
    class ServingStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NOT_SERVING: HealthCheckResponse.ServingStatus
    SERVING: HealthCheckResponse.ServingStatus
    SERVING_STATUS_UNSPECIFIED: HealthCheckResponse.ServingStatus
    STATUS_FIELD_NUMBER: _ClassVar[int]
    message: str
    status: HealthCheckResponse.ServingStatus
    def __init__(self, status: _Optional[_Union[HealthCheckResponse.ServingStatus, str]] = ..., message: _Optional[str] = ...) -> None: ...

class IngestBatchRequest(_message.Message):
    __slots__ = ["events", "include_entitlement_effects"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ENTITLEMENT_EFFECTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    include_entitlement_effects: bool
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., include_entitlement_effects: bool = ...) -> None: ...

class IngestBatchResponse(_message.Message):
    __slots__ = ["accepted", "duplicates", "rejected", "results"]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    duplicates: int
    rejected: int
    results: _containers.RepeatedCompositeFieldContainer[EventResult]
    def __init__(self, results: _Optional[_Iterable[_Union[EventResult, _Mapping]]] = ..., accepted: _Optional[int] = ..., duplicates: _Optional[int] = ..., rejected: _Optional[int] = ...) -> None: ...

class IngestRequest(_message.Message):
    __slots__ = ["event"]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: Event
    def __init__(self, event: _Optional[_Union[Event, _Mapping]] = ...) -> None: ...

class IngestResponse(_message.Message):
    __slots__ = ["result"]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: EventResult
    def __init__(self, result: _Optional[_Union[EventResult, _Mapping]] = ...) -> None: ...

class ListApiKeysRequest(_message.Message):
    __slots__ = ["include_revoked"]
    INCLUDE_REVOKED_FIELD_NUMBER: _ClassVar[int]
    include_revoked: bool
    def __init__(self, include_revoked: bool = ...) -> None: ...

class ListApiKeysResponse(_message.Message):
    __slots__ = ["keys"]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[ApiKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[ApiKey, _Mapping]]] = ...) -> None: ...

class ListAuditEntriesRequest(_message.Message):
    __slots__ = ["from_ms", "key_id", "limit", "meter", "to_ms"]
    FROM_MS_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    TO_MS_FIELD_NUMBER: _ClassVar[int]
    from_ms: int
    key_id: str
    limit: int
    meter: MeterReference
    to_ms: int
    def __init__(self, from_ms: _Optional[int] = ..., to_ms: _Optional[int] = ..., key_id: _Optional[str] = ..., meter: _Optional[_Union[MeterReference, _Mapping]] = ..., limit: _Optional[int] = ...) -> None: ...

class ListAuditEntriesResponse(_message.Message):
    __slots__ = ["entries"]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[AuditEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[AuditEntry, _Mapping]]] = ...) -> None: ...

class ListEntitlementsRequest(_message.Message):
    __slots__ = ["meter"]
    METER_FIELD_NUMBER: _ClassVar[int]
    meter: MeterReference
    def __init__(self, meter: _Optional[_Union[MeterReference, _Mapping]] = ...) -> None: ...

class ListEntitlementsResponse(_message.Message):
    __slots__ = ["entitlements", "grants"]
    ENTITLEMENTS_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    entitlements: _containers.RepeatedCompositeFieldContainer[Entitlement]
    grants: _containers.RepeatedCompositeFieldContainer[Grant]
    def __init__(self, entitlements: _Optional[_Iterable[_Union[Entitlement, _Mapping]]] = ..., grants: _Optional[_Iterable[_Union[Grant, _Mapping]]] = ...) -> None: ...

class ListMetersRequest(_message.Message):
    __slots__ = ["include_archived", "page_size", "page_token"]
    INCLUDE_ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    include_archived: bool
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_archived: bool = ...) -> None: ...

class ListMetersResponse(_message.Message):
    __slots__ = ["meters", "next_page_token"]
    METERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    meters: _containers.RepeatedCompositeFieldContainer[Meter]
    next_page_token: str
    def __init__(self, meters: _Optional[_Iterable[_Union[Meter, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListNotificationsRequest(_message.Message):
    __slots__ = ["after_number", "limit", "partitions", "wait_ms"]
    AFTER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    after_number: int
    limit: int
    partitions: _containers.RepeatedScalarFieldContainer[int]
    wait_ms: int
    def __init__(self, after_number: _Optional[int] = ..., limit: _Optional[int] = ..., wait_ms: _Optional[int] = ..., partitions: _Optional[_Iterable[int]] = ...) -> None: ...

class ListNotificationsResponse(_message.Message):
    __slots__ = ["last_number", "notifications"]
    LAST_NUMBER_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    last_number: int
    notifications: _containers.RepeatedCompositeFieldContainer[Notification]
    def __init__(self, notifications: _Optional[_Iterable[_Union[Notification, _Mapping]]] = ..., last_number: _Optional[int] = ...) -> None: ...

class ListThresholdRulesRequest(_message.Message):
    __slots__ = ["meter"]
    METER_FIELD_NUMBER: _ClassVar[int]
    meter: MeterReference
    def __init__(self, meter: _Optional[_Union[MeterReference, _Mapping]] = ...) -> None: ...

class ListThresholdRulesResponse(_message.Message):
    __slots__ = ["rules"]
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[ThresholdRule]
    def __init__(self, rules: _Optional[_Iterable[_Union[ThresholdRule, _Mapping]]] = ...) -> None: ...

class Meter(_message.Message):
    __slots__ = ["archived_at_ms", "backfill", "counters", "created_at_ms", "definition", "id", "status"]
    ARCHIVED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    archived_at_ms: int
    backfill: Backfill
    counters: MeterCounters
    created_at_ms: int
    definition: MeterDefinition
    id: str
    status: MeterStatus
    def __init__(self, id: _Optional[str] = ..., definition: _Optional[_Union[MeterDefinition, _Mapping]] = ..., status: _Optional[_Union[MeterStatus, str]] = ..., created_at_ms: _Optional[int] = ..., archived_at_ms: _Optional[int] = ..., counters: _Optional[_Union[MeterCounters, _Mapping]] = ..., backfill: _Optional[_Union[Backfill, _Mapping]] = ...) -> None: ...

class MeterCounters(_message.Message):
    __slots__ = ["counted", "filtered_out", "missing_value", "overflowed"]
    COUNTED_FIELD_NUMBER: _ClassVar[int]
    FILTERED_OUT_FIELD_NUMBER: _ClassVar[int]
    MISSING_VALUE_FIELD_NUMBER: _ClassVar[int]
    OVERFLOWED_FIELD_NUMBER: _ClassVar[int]
    counted: int
    filtered_out: int
    missing_value: int
    overflowed: int
    def __init__(self, counted: _Optional[int] = ..., filtered_out: _Optional[int] = ..., missing_value: _Optional[int] = ..., overflowed: _Optional[int] = ...) -> None: ...

class MeterDefinition(_message.Message):
    __slots__ = ["aggregation", "anchor_ms", "billing_period", "display_name", "event_name", "field", "filters", "group_by", "has_anchor", "multiplier", "reset"]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_MS_FIELD_NUMBER: _ClassVar[int]
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    HAS_ANCHOR_FIELD_NUMBER: _ClassVar[int]
    MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    aggregation: Aggregation
    anchor_ms: int
    billing_period: BillingPeriod
    display_name: str
    event_name: str
    field: str
    filters: _containers.RepeatedCompositeFieldContainer[MeterFilter]
    group_by: _containers.RepeatedScalarFieldContainer[str]
    has_anchor: bool
    multiplier: str
    reset: ResetMode
    def __init__(self, event_name: _Optional[str] = ..., display_name: _Optional[str] = ..., filters: _Optional[_Iterable[_Union[MeterFilter, _Mapping]]] = ..., aggregation: _Optional[_Union[Aggregation, str]] = ..., field: _Optional[str] = ..., multiplier: _Optional[str] = ..., reset: _Optional[_Union[ResetMode, str]] = ..., billing_period: _Optional[_Union[BillingPeriod, str]] = ..., anchor_ms: _Optional[int] = ..., has_anchor: bool = ..., group_by: _Optional[_Iterable[str]] = ...) -> None: ...

class MeterFilter(_message.Message):
    __slots__ = ["key", "values"]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    key: str
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, key: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class MeterReference(_message.Message):
    __slots__ = ["event_name", "id"]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    event_name: str
    id: str
    def __init__(self, id: _Optional[str] = ..., event_name: _Optional[str] = ...) -> None: ...

class Notification(_message.Message):
    __slots__ = ["at_ms", "customer_id", "meter_id", "number", "period_end_ms", "period_start_ms", "rule_id", "sequence", "threshold", "usage"]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_MS_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_MS_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    at_ms: int
    customer_id: str
    meter_id: str
    number: int
    period_end_ms: int
    period_start_ms: int
    rule_id: str
    sequence: int
    threshold: str
    usage: str
    def __init__(self, number: _Optional[int] = ..., rule_id: _Optional[str] = ..., meter_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., threshold: _Optional[str] = ..., usage: _Optional[str] = ..., period_start_ms: _Optional[int] = ..., period_end_ms: _Optional[int] = ..., sequence: _Optional[int] = ..., at_ms: _Optional[int] = ...) -> None: ...

class Property(_message.Message):
    __slots__ = ["key", "value"]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: PropertyValue
    def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[PropertyValue, _Mapping]] = ...) -> None: ...

class PropertyValue(_message.Message):
    __slots__ = ["bool_value", "decimal_value", "integer_value", "string_value"]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    DECIMAL_VALUE_FIELD_NUMBER: _ClassVar[int]
    INTEGER_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    bool_value: bool
    decimal_value: str
    integer_value: int
    string_value: str
    def __init__(self, string_value: _Optional[str] = ..., integer_value: _Optional[int] = ..., decimal_value: _Optional[str] = ..., bool_value: bool = ...) -> None: ...

class QueryUsageRequest(_message.Message):
    __slots__ = ["customer_id", "from_ms", "group_by", "group_by_customer", "group_filters", "meter", "partitions", "to_ms", "window_size"]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_MS_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    GROUP_FILTERS_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    TO_MS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SIZE_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    from_ms: int
    group_by: _containers.RepeatedScalarFieldContainer[str]
    group_by_customer: bool
    group_filters: _containers.RepeatedCompositeFieldContainer[MeterFilter]
    meter: MeterReference
    partitions: _containers.RepeatedScalarFieldContainer[int]
    to_ms: int
    window_size: WindowSize
    def __init__(self, meter: _Optional[_Union[MeterReference, _Mapping]] = ..., from_ms: _Optional[int] = ..., to_ms: _Optional[int] = ..., window_size: _Optional[_Union[WindowSize, str]] = ..., customer_id: _Optional[str] = ..., group_by_customer: bool = ..., group_by: _Optional[_Iterable[str]] = ..., group_filters: _Optional[_Iterable[_Union[MeterFilter, _Mapping]]] = ..., partitions: _Optional[_Iterable[int]] = ...) -> None: ...

class QueryUsageResponse(_message.Message):
    __slots__ = ["meter", "rows"]
    METER_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    meter: Meter
    rows: _containers.RepeatedCompositeFieldContainer[UsageRow]
    def __init__(self, meter: _Optional[_Union[Meter, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[UsageRow, _Mapping]]] = ...) -> None: ...

class RemoveEntitlementRequest(_message.Message):
    __slots__ = ["customer_id", "meter"]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    meter: MeterReference
    def __init__(self, meter: _Optional[_Union[MeterReference, _Mapping]] = ..., customer_id: _Optional[str] = ...) -> None: ...

class RemoveEntitlementResponse(_message.Message):
    __slots__ = ["entitlement"]
    ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
    entitlement: Entitlement
    def __init__(self, entitlement: _Optional[_Union[Entitlement, _Mapping]] = ...) -> None: ...

class RemoveGrantRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RemoveGrantResponse(_message.Message):
    __slots__ = ["grant"]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    grant: Grant
    def __init__(self, grant: _Optional[_Union[Grant, _Mapping]] = ...) -> None: ...

class RemoveThresholdRuleRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RemoveThresholdRuleResponse(_message.Message):
    __slots__ = ["rule"]
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: ThresholdRule
    def __init__(self, rule: _Optional[_Union[ThresholdRule, _Mapping]] = ...) -> None: ...

class RevokeApiKeyRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RevokeApiKeyResponse(_message.Message):
    __slots__ = ["key"]
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: ApiKey
    def __init__(self, key: _Optional[_Union[ApiKey, _Mapping]] = ...) -> None: ...

class ServerInfoRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ServerInfoResponse(_message.Message):
    __slots__ = ["durability", "failure", "first_retained_sequence", "group_commits", "last_applied_sequence", "syncs", "uptime_ms", "version"]
    DURABILITY_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    FIRST_RETAINED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    GROUP_COMMITS_FIELD_NUMBER: _ClassVar[int]
    LAST_APPLIED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SYNCS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_MS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    durability: str
    failure: str
    first_retained_sequence: int
    group_commits: int
    last_applied_sequence: int
    syncs: int
    uptime_ms: int
    version: str
    def __init__(self, version: _Optional[str] = ..., uptime_ms: _Optional[int] = ..., durability: _Optional[str] = ..., last_applied_sequence: _Optional[int] = ..., first_retained_sequence: _Optional[int] = ..., failure: _Optional[str] = ..., group_commits: _Optional[int] = ..., syncs: _Optional[int] = ...) -> None: ...

class SetEntitlementRequest(_message.Message):
    __slots__ = ["customer_id", "enforcement", "limit", "meter"]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ENFORCEMENT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    enforcement: Enforcement
    limit: str
    meter: MeterReference
    def __init__(self, meter: _Optional[_Union[MeterReference, _Mapping]] = ..., customer_id: _Optional[str] = ..., limit: _Optional[str] = ..., enforcement: _Optional[_Union[Enforcement, str]] = ...) -> None: ...

class SetEntitlementResponse(_message.Message):
    __slots__ = ["entitlement"]
    ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
    entitlement: Entitlement
    def __init__(self, entitlement: _Optional[_Union[Entitlement, _Mapping]] = ...) -> None: ...

class ThresholdRule(_message.Message):
    __slots__ = ["created_at_ms", "customer_id", "id", "meter_id", "percent", "value"]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    METER_ID_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    created_at_ms: int
    customer_id: str
    id: str
    meter_id: str
    percent: str
    value: str
    def __init__(self, id: _Optional[str] = ..., meter_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., value: _Optional[str] = ..., percent: _Optional[str] = ..., created_at_ms: _Optional[int] = ...) -> None: ...

class UpdateMeterRequest(_message.Message):
    __slots__ = ["display_name", "immutable_changes", "meter"]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    IMMUTABLE_CHANGES_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    display_name: str
    immutable_changes: MeterDefinition
    meter: MeterReference
    def __init__(self, meter: _Optional[_Union[MeterReference, _Mapping]] = ..., display_name: _Optional[str] = ..., immutable_changes: _Optional[_Union[MeterDefinition, _Mapping]] = ...) -> None: ...

class UpdateMeterResponse(_message.Message):
    __slots__ = ["meter"]
    METER_FIELD_NUMBER: _ClassVar[int]
    meter: Meter
    def __init__(self, meter: _Optional[_Union[Meter, _Mapping]] = ...) -> None: ...

class UsageRow(_message.Message):
    __slots__ = ["customer_id", "event_count", "group", "has_value", "value", "window_end_ms", "window_start_ms"]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    HAS_VALUE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_MS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_MS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    event_count: int
    group: _containers.RepeatedCompositeFieldContainer[GroupValue]
    has_value: bool
    value: str
    window_end_ms: int
    window_start_ms: int
    def __init__(self, window_start_ms: _Optional[int] = ..., window_end_ms: _Optional[int] = ..., customer_id: _Optional[str] = ..., group: _Optional[_Iterable[_Union[GroupValue, _Mapping]]] = ..., value: _Optional[str] = ..., has_value: bool = ..., event_count: _Optional[int] = ...) -> None: ...

class WatchNotificationsRequest(_message.Message):
    __slots__ = ["after_number", "meter"]
    AFTER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    after_number: int
    meter: MeterReference
    def __init__(self, after_number: _Optional[int] = ..., meter: _Optional[_Union[MeterReference, _Mapping]] = ...) -> None: ...

class WatchNotificationsResponse(_message.Message):
    __slots__ = ["last_number"]
    LAST_NUMBER_FIELD_NUMBER: _ClassVar[int]
    last_number: int
    def __init__(self, last_number: _Optional[int] = ...) -> None: ...

class WebhookDeadLetter(_message.Message):
    __slots__ = ["attempts", "last_error", "number"]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    attempts: int
    last_error: str
    number: int
    def __init__(self, number: _Optional[int] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ...) -> None: ...

class Aggregation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ResetMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class BillingPeriod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class WindowSize(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class MeterStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class EventStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class EventOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class KeyRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Enforcement(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
