"""The requests of every method, shared by the blocking and the asyncio client.

Each function builds a :class:`Call`: the method id, the request message, the response message
type and a function turning the decoded response into the value the client returns. The two
clients only differ in how they send a Call and wait for its answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from . import models
from .proto import meterd_pb2 as pb
from .wire import Method


@dataclass(frozen=True)
class Call:
    """One request: what to send and how to read its answer."""

    method: Method
    request: Any
    response_type: type
    convert: Callable[[Any], Any]

    def payload(self) -> bytes:
        return self.request.SerializeToString()

    def decode(self, payload: bytes):
        response = self.response_type()
        response.ParseFromString(payload)
        return self.convert(response)


def _meter(response) -> models.Meter:
    return models.Meter.from_message(response.meter)


def create_meter(event_name: str, display_name: str, aggregation, **options) -> Call:
    definition = models.meter_definition(event_name, display_name, aggregation, **options)
    return Call(Method.CREATE_METER, pb.CreateMeterRequest(definition=definition),
                pb.CreateMeterResponse, _meter)


def get_meter(reference: str) -> Call:
    return Call(Method.GET_METER, pb.GetMeterRequest(meter=models.meter_reference(reference)),
                pb.GetMeterResponse, _meter)


def list_meters_page(include_archived: bool, page_size: int, page_token: str) -> Call:
    request = pb.ListMetersRequest(page_size=page_size, page_token=page_token,
                                   include_archived=include_archived)
    return Call(Method.LIST_METERS, request, pb.ListMetersResponse,
                lambda response: ([models.Meter.from_message(item) for item in response.meters],
                                  response.next_page_token))


def update_meter(reference: str, display_name: str) -> Call:
    request = pb.UpdateMeterRequest(meter=models.meter_reference(reference),
                                    display_name=display_name)
    return Call(Method.UPDATE_METER, request, pb.UpdateMeterResponse, _meter)


def archive_meter(reference: str) -> Call:
    return Call(Method.ARCHIVE_METER,
                pb.ArchiveMeterRequest(meter=models.meter_reference(reference)),
                pb.ArchiveMeterResponse, _meter)


def _event_message(event: models.Event | pb.Event) -> pb.Event:
    if isinstance(event, pb.Event):
        return event
    if not isinstance(event, models.Event):
        raise TypeError(f"expected meterclient.Event, not {type(event).__name__}")
    return event.to_message()


def ingest(event: models.Event) -> Call:
    return Call(Method.INGEST, pb.IngestRequest(event=_event_message(event)), pb.IngestResponse,
                lambda response: models.EventResult.from_message(response.result))


def ingest_batch(events: Iterable[models.Event], entitlement_effects: bool = False) -> Call:
    request = pb.IngestBatchRequest(events=[_event_message(event) for event in events],
                                    include_entitlement_effects=entitlement_effects)
    return Call(Method.INGEST_BATCH, request, pb.IngestBatchResponse,
                models.BatchResult.from_message)


def query_usage(reference: str, start: models.TimeValue, end: models.TimeValue, *,
                window=None, customer: str | None = None, group_by_customer: bool = False,
                group_by: Sequence[str] = (),
                group_filters: Mapping[str, Sequence[str]] | None = None) -> Call:
    request = pb.QueryUsageRequest(
        meter=models.meter_reference(reference),
        from_ms=models.to_milliseconds(start),
        to_ms=models.to_milliseconds(end),
        window_size=models.WindowSize.parse(window) if window is not None else 0,
        customer_id=customer or "",
        group_by_customer=group_by_customer,
        group_by=list(group_by),
        group_filters=[pb.MeterFilter(key=key, values=list(values))
                       for key, values in (group_filters or {}).items()],
    )
    return Call(Method.QUERY_USAGE, request, pb.QueryUsageResponse, models.UsageRows.from_message)


def current_usage(reference: str, customer: str | None = None,
                  at: models.TimeValue | None = None) -> Call:
    request = pb.CurrentUsageRequest(meter=models.meter_reference(reference),
                                     customer_id=customer or "",
                                     at_ms=0 if at is None else models.to_milliseconds(at))
    return Call(Method.CURRENT_USAGE, request, pb.CurrentUsageResponse,
                lambda response: models.CurrentUsage(models.Meter.from_message(response.meter),
                                                     models.UsageRow.from_message(response.row)))


def set_entitlement(reference: str, limit, customer: str | None = None, soft: bool = False) -> Call:
    request = pb.SetEntitlementRequest(meter=models.meter_reference(reference), customer_id=customer or "",
                                       limit=models.decimal_text(limit),
                                       enforcement=pb.ENFORCEMENT_SOFT if soft else pb.ENFORCEMENT_HARD)
    return Call(Method.SET_ENTITLEMENT, request, pb.SetEntitlementResponse, lambda response: response.entitlement)


def add_grant(reference: str, customer: str, amount, effective_from=None, expires_at=None) -> Call:
    request = pb.AddGrantRequest(meter=models.meter_reference(reference), customer_id=customer,
                                 amount=models.decimal_text(amount),
                                 effective_from_ms=0 if effective_from is None else models.to_milliseconds(effective_from),
                                 expires_at_ms=0 if expires_at is None else models.to_milliseconds(expires_at))
    return Call(Method.ADD_GRANT, request, pb.AddGrantResponse, lambda response: response.grant)


def check_entitlement(reference: str, customer: str, at=None) -> Call:
    request = pb.CheckEntitlementRequest(meter=models.meter_reference(reference), customer_id=customer,
                                         at_ms=0 if at is None else models.to_milliseconds(at))
    return Call(Method.CHECK_ENTITLEMENT, request, pb.CheckEntitlementResponse, models.EntitlementCheck.from_message)


def add_threshold_rule(reference: str, *, value=None, percent=None, customer: str | None = None) -> Call:
    if (value is None) == (percent is None):
        raise ValueError("give exactly one of value and percent")
    request = pb.AddThresholdRuleRequest(meter=models.meter_reference(reference), customer_id=customer or "")
    if value is not None:
        request.value = models.decimal_text(value)
    else:
        request.percent = models.decimal_text(percent)
    return Call(Method.ADD_THRESHOLD_RULE, request, pb.AddThresholdRuleResponse, lambda response: response.rule)


def list_notifications(after: int = 0, limit: int = 0, wait_ms: int = 0) -> Call:
    request = pb.ListNotificationsRequest(after_number=after, limit=limit, wait_ms=wait_ms)
    return Call(Method.LIST_NOTIFICATIONS, request, pb.ListNotificationsResponse,
                lambda response: models.NotificationPage(
                    [models.Notification.from_message(item) for item in response.notifications], response.last_number))


def health() -> Call:
    return Call(Method.HEALTH_CHECK, pb.HealthCheckRequest(), pb.HealthCheckResponse,
                lambda response: models.Health(models.ServingStatus.from_wire(response.status),
                                               response.message))


def server_info() -> Call:
    return Call(Method.SERVER_INFO, pb.ServerInfoRequest(), pb.ServerInfoResponse,
                lambda response: models.ServerInfo(
                    response.version, response.uptime_ms, response.durability,
                    response.last_applied_sequence, response.first_retained_sequence,
                    response.failure, response.group_commits, response.syncs))
