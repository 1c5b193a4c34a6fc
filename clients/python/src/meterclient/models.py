"""Plain Python values of the meterd API: enums, events, meters, results and usage rows.

Conversion to and from the protobuf messages lives here too, so that no caller handles
protobuf objects. Quantities are :class:`decimal.Decimal`, never ``float``; times are
timezone-aware UTC :class:`datetime.datetime` values (or integer Unix milliseconds on input).
"""

from __future__ import annotations

import datetime as _datetime
import decimal
import enum
from dataclasses import dataclass, field
from typing import Mapping, Sequence, Union

from .proto import meterd_pb2 as pb

PropertyValue = Union[str, int, bool, decimal.Decimal]
TimeValue = Union[_datetime.datetime, int]

_EPOCH = _datetime.datetime(1970, 1, 1, tzinfo=_datetime.timezone.utc)


class _NamedEnum(enum.IntEnum):
    """An IntEnum that also accepts its member names, case-insensitively."""

    @classmethod
    def parse(cls, value):
        """Return the member for a member, an int or a name such as ``"sum"``."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                raise ValueError(f"unknown {cls.__name__} {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{cls.__name__} must be a member, a name or an int, not {value!r}")
        return cls(value)

    @classmethod
    def from_wire(cls, value: int):
        """Return the member for a wire number, or the plain int for a value unknown here."""
        try:
            return cls(value)
        except ValueError:
            return value


class Aggregation(_NamedEnum):
    UNSPECIFIED = 0
    COUNT = 1
    SUM = 2
    AVG = 3
    MIN = 4
    MAX = 5
    COUNT_UNIQUE = 6
    LATEST = 7


class ResetMode(_NamedEnum):
    UNSPECIFIED = 0
    CUMULATIVE = 1
    PERIODIC = 2


class BillingPeriod(_NamedEnum):
    UNSPECIFIED = 0
    DAILY = 1
    WEEKLY = 2
    MONTHLY = 3
    QUARTERLY = 4
    ANNUAL = 5


class WindowSize(_NamedEnum):
    UNSPECIFIED = 0
    MINUTE = 1
    FIFTEEN_MINUTES = 2
    THIRTY_MINUTES = 3
    HOUR = 4
    THREE_HOURS = 5
    SIX_HOURS = 6
    TWELVE_HOURS = 7
    DAY = 8
    WEEK = 9
    MONTH = 10


class MeterStatus(_NamedEnum):
    UNSPECIFIED = 0
    ACTIVE = 1
    ARCHIVED = 2


class EventStatus(_NamedEnum):
    UNSPECIFIED = 0
    ACCEPTED = 1
    DUPLICATE = 2
    REJECTED = 3


class EventOutcome(_NamedEnum):
    UNSPECIFIED = 0
    COUNTED = 1
    NO_ACTIVE_METER = 2
    FILTERED_OUT = 3
    MISSING_VALUE = 4
    OVERFLOW = 5


class ServingStatus(_NamedEnum):
    UNSPECIFIED = 0
    SERVING = 1
    NOT_SERVING = 2


# ----------------------------------------------------------------------------------------------
# Times and decimals
# ----------------------------------------------------------------------------------------------

def to_milliseconds(value: TimeValue) -> int:
    """Convert an aware datetime or integer Unix milliseconds to Unix milliseconds."""
    if isinstance(value, bool):
        raise TypeError("a time must be a datetime or integer milliseconds, not bool")
    if isinstance(value, int):
        return value
    if isinstance(value, _datetime.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a timezone-aware datetime (UTC) or milliseconds")
        delta = value - _EPOCH
        return (delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000)
    raise TypeError(f"a time must be a datetime or integer milliseconds, not {type(value).__name__}")


def from_milliseconds(milliseconds: int) -> _datetime.datetime:
    """Convert Unix milliseconds to an aware UTC datetime."""
    return _EPOCH + _datetime.timedelta(milliseconds=milliseconds)


def decimal_text(value: decimal.Decimal | int) -> str:
    """Exact decimal text for the wire (no exponent): ``Decimal("1E+3")`` gives ``"1000"``."""
    if isinstance(value, bool) or not isinstance(value, (int, decimal.Decimal)):
        raise TypeError(f"expected decimal.Decimal or int, not {type(value).__name__}"
                        " (floats are refused: no binary floating point touches billed quantities)")
    if isinstance(value, decimal.Decimal) and not value.is_finite():
        raise ValueError(f"decimal value must be finite, not {value}")
    return format(value, "f")


def parse_decimal(text: str) -> decimal.Decimal:
    """Parse the server's decimal text exactly."""
    return decimal.Decimal(text)


# ----------------------------------------------------------------------------------------------
# Meter references and properties
# ----------------------------------------------------------------------------------------------

def meter_reference(reference: str) -> pb.MeterReference:
    """A string starting with ``mtr_`` is a meter id; any other string is an event name."""
    if not isinstance(reference, str) or not reference:
        raise TypeError("a meter reference is a non-empty string: an id (mtr_...) or an event name")
    if reference.startswith("mtr_"):
        return pb.MeterReference(id=reference)
    return pb.MeterReference(event_name=reference)


def property_value(value: PropertyValue) -> pb.PropertyValue:
    """Map a Python value onto a PropertyValue; floats raise TypeError."""
    if isinstance(value, bool):
        return pb.PropertyValue(bool_value=value)
    if isinstance(value, int):
        return pb.PropertyValue(integer_value=value)
    if isinstance(value, decimal.Decimal):
        return pb.PropertyValue(decimal_value=decimal_text(value))
    if isinstance(value, str):
        return pb.PropertyValue(string_value=value)
    if isinstance(value, float):
        raise TypeError("float property values are refused: use decimal.Decimal or int"
                        " (no binary floating point touches billed quantities)")
    raise TypeError(f"unsupported property value type {type(value).__name__}:"
                    " use str, int, bool or decimal.Decimal")


def property_from_wire(value: pb.PropertyValue) -> PropertyValue | None:
    """Map a PropertyValue back to str, int, Decimal or bool (None when unset)."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "integer_value":
        return value.integer_value
    if kind == "decimal_value":
        return parse_decimal(value.decimal_value)
    if kind == "bool_value":
        return value.bool_value
    return None


# ----------------------------------------------------------------------------------------------
# Events and results
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    """A usage event. ``event_id`` is the idempotency key: resending it never counts twice."""

    event_id: str
    event_name: str
    customer_id: str
    timestamp: TimeValue
    properties: Mapping[str, PropertyValue] = field(default_factory=dict)
    source: str | None = None

    def to_message(self) -> pb.Event:
        """The protobuf ``Event``; properties keep their mapping order."""
        return pb.Event(
            event_id=self.event_id,
            event_name=self.event_name,
            customer_id=self.customer_id,
            timestamp_ms=to_milliseconds(self.timestamp),
            properties=[pb.Property(key=key, value=property_value(value))
                        for key, value in self.properties.items()],
            source=self.source or "",
        )

    @classmethod
    def from_message(cls, message: pb.Event) -> "Event":
        """Build an Event from its protobuf form (timestamp stays in milliseconds)."""
        return cls(
            event_id=message.event_id,
            event_name=message.event_name,
            customer_id=message.customer_id,
            timestamp=message.timestamp_ms,
            properties={item.key: property_from_wire(item.value) for item in message.properties},
            source=message.source or None,
        )


@dataclass(frozen=True)
class EventResult:
    """What happened to one ingested event.

    ``entitlement`` is set only when the batch asked for entitlement effects, for an accepted
    event on a meter with an entitlement for its customer.
    """

    status: EventStatus
    outcome: EventOutcome
    reason: str = ""
    message: str = ""
    entitlement: "EntitlementEffect | None" = None

    @classmethod
    def from_message(cls, message: pb.EventResult) -> "EventResult":
        effect = EntitlementEffect.from_message(message.entitlement) if message.HasField("entitlement") else None
        return cls(EventStatus.from_wire(message.status), EventOutcome.from_wire(message.outcome),
                   message.reason, message.message, effect)

    @property
    def accepted(self) -> bool:
        return self.status == EventStatus.ACCEPTED

    @property
    def duplicate(self) -> bool:
        return self.status == EventStatus.DUPLICATE

    @property
    def rejected(self) -> bool:
        return self.status == EventStatus.REJECTED


class BatchResult(list):
    """The results of an IngestBatch, one per event in request order, with the server's counts."""

    def __init__(self, results: Sequence[EventResult], accepted: int, duplicates: int,
                 rejected: int) -> None:
        super().__init__(results)
        self.accepted = accepted
        self.duplicates = duplicates
        self.rejected = rejected

    @classmethod
    def from_message(cls, message: pb.IngestBatchResponse) -> "BatchResult":
        return cls([EventResult.from_message(item) for item in message.results],
                   message.accepted, message.duplicates, message.rejected)

    def __repr__(self) -> str:
        return (f"BatchResult(accepted={self.accepted}, duplicates={self.duplicates}, "
                f"rejected={self.rejected}, results={list.__repr__(self)})")


# ----------------------------------------------------------------------------------------------
# Meters
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MeterCounters:
    counted: int
    filtered_out: int
    missing_value: int
    overflowed: int


@dataclass(frozen=True)
class Backfill:
    target_sequence: int
    completed_through_sequence: int
    events_counted: int
    complete: bool


@dataclass(frozen=True)
class Meter:
    """A meter as the server holds it."""

    id: str
    event_name: str
    display_name: str
    filters: dict[str, list[str]]
    aggregation: Aggregation
    field: str | None
    multiplier: decimal.Decimal | None
    reset: ResetMode
    billing_period: BillingPeriod
    anchor: _datetime.datetime | None
    group_by: list[str]
    status: MeterStatus
    created_at: _datetime.datetime
    archived_at: _datetime.datetime | None
    counters: MeterCounters
    backfill: Backfill

    @classmethod
    def from_message(cls, message: pb.Meter) -> "Meter":
        definition = message.definition
        counters = message.counters
        backfill = message.backfill
        return cls(
            id=message.id,
            event_name=definition.event_name,
            display_name=definition.display_name,
            filters={item.key: list(item.values) for item in definition.filters},
            aggregation=Aggregation.from_wire(definition.aggregation),
            field=definition.field or None,
            multiplier=parse_decimal(definition.multiplier) if definition.multiplier else None,
            reset=ResetMode.from_wire(definition.reset),
            billing_period=BillingPeriod.from_wire(definition.billing_period),
            anchor=from_milliseconds(definition.anchor_ms) if definition.has_anchor else None,
            group_by=list(definition.group_by),
            status=MeterStatus.from_wire(message.status),
            created_at=from_milliseconds(message.created_at_ms),
            archived_at=from_milliseconds(message.archived_at_ms) if message.archived_at_ms else None,
            counters=MeterCounters(counters.counted, counters.filtered_out,
                                   counters.missing_value, counters.overflowed),
            backfill=Backfill(backfill.target_sequence, backfill.completed_through_sequence,
                              backfill.events_counted, backfill.complete),
        )


def meter_definition(event_name: str, display_name: str, aggregation, *, field: str | None = None,
                     reset=ResetMode.CUMULATIVE, billing_period=None,
                     filters: Mapping[str, Sequence[str]] | None = None,
                     multiplier: decimal.Decimal | int | None = None,
                     anchor: TimeValue | None = None,
                     group_by: Sequence[str] = ()) -> pb.MeterDefinition:
    """Build a MeterDefinition from keyword arguments (enums may be given by name)."""
    definition = pb.MeterDefinition(
        event_name=event_name,
        display_name=display_name,
        filters=[pb.MeterFilter(key=key, values=_string_list(values, key))
                 for key, values in (filters or {}).items()],
        aggregation=Aggregation.parse(aggregation),
        field=field or "",
        multiplier="" if multiplier is None else decimal_text(multiplier),
        reset=ResetMode.parse(reset),
        billing_period=BillingPeriod.parse(billing_period) if billing_period is not None else 0,
        group_by=list(group_by),
    )
    if anchor is not None:
        definition.anchor_ms = to_milliseconds(anchor)
        definition.has_anchor = True
    return definition


def _string_list(values, key: str) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"filter {key!r}: give a list of values, not a single string")
    return list(values)


# ----------------------------------------------------------------------------------------------
# Usage
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UsageRow:
    """The usage of one window (and customer and group, when the query breaks usage down).

    ``value`` is an exact :class:`decimal.Decimal`, or None when the server says no value
    (AVG, MIN, MAX and LATEST over a window without events).
    """

    window_start: _datetime.datetime
    window_end: _datetime.datetime
    customer_id: str | None
    group: dict[str, str | None]
    value: decimal.Decimal | None
    event_count: int

    @classmethod
    def from_message(cls, message: pb.UsageRow) -> "UsageRow":
        return cls(
            window_start=from_milliseconds(message.window_start_ms),
            window_end=from_milliseconds(message.window_end_ms),
            customer_id=message.customer_id or None,
            group={item.key: (item.value if item.present else None) for item in message.group},
            value=parse_decimal(message.value) if message.has_value else None,
            event_count=message.event_count,
        )


class UsageRows(list):
    """The rows of a usage query (a list of :class:`UsageRow`) and the meter it read."""

    def __init__(self, rows: Sequence[UsageRow], meter: Meter) -> None:
        super().__init__(rows)
        self.meter = meter

    @classmethod
    def from_message(cls, message: pb.QueryUsageResponse) -> "UsageRows":
        return cls([UsageRow.from_message(row) for row in message.rows],
                   Meter.from_message(message.meter))


@dataclass(frozen=True)
class CurrentUsage:
    """The answer of current_usage: the meter and its one usage row."""

    meter: Meter
    row: UsageRow

    @property
    def value(self) -> decimal.Decimal | None:
        return self.row.value


@dataclass(frozen=True)
class Health:
    status: ServingStatus
    message: str

    @property
    def serving(self) -> bool:
        return self.status == ServingStatus.SERVING


@dataclass(frozen=True)
class ServerInfo:
    version: str
    uptime_ms: int
    durability: str
    last_applied_sequence: int
    first_retained_sequence: int
    failure: str
    group_commits: int
    syncs: int


@dataclass(frozen=True)
class ConnectionInfo:
    """The limits and identity the server stated in its HandshakeAck."""

    protocol_version: int
    server_version: str
    max_frame_bytes: int
    max_batch_events: int
    max_in_flight: int
    tenant_id: str
    #: The role the server granted: "admin", "ingest" or "read" ("" from an older server).
    role: str = ""
    #: Who the server took the connection for: "key key_3" or "uid 1000".
    principal: str = ""
    #: The server speaks server streams (WatchNotifications; CANCEL frames are safe to send).
    server_streams: bool = False


@dataclass(frozen=True)
class EntitlementEffect:
    """One accepted event's effect on its customer's entitlement: the state right after it.

    ``crossed`` is true for the event that took usage from below the limit to the limit or above.
    """

    has_access: bool
    usage: decimal.Decimal
    limit: decimal.Decimal
    remaining: decimal.Decimal
    crossed: bool

    @classmethod
    def from_message(cls, message) -> "EntitlementEffect":
        return cls(message.has_access, parse_decimal(message.usage), parse_decimal(message.limit),
                   parse_decimal(message.remaining), message.crossed)


@dataclass(frozen=True)
class EntitlementCheck:
    """Whether a customer may use a meter, with the usage, limit and balance behind the answer.

    ``period_start_ms``/``period_end_ms`` are ``None`` for a CUMULATIVE meter (lifetime).
    """

    has_access: bool
    meter_id: str
    customer_id: str
    enforcement: str
    is_default: bool
    usage: decimal.Decimal
    limit: decimal.Decimal
    granted: decimal.Decimal
    remaining: decimal.Decimal
    overage: decimal.Decimal
    period_start_ms: int | None
    period_end_ms: int | None
    at_ms: int

    @classmethod
    def from_message(cls, message) -> "EntitlementCheck":
        bounded = message.period_end_ms != 0
        return cls(message.has_access, message.meter_id, message.customer_id,
                   "SOFT" if message.enforcement == 2 else "HARD", message.is_default,
                   parse_decimal(message.usage), parse_decimal(message.limit), parse_decimal(message.granted),
                   parse_decimal(message.remaining), parse_decimal(message.overage),
                   message.period_start_ms if bounded else None, message.period_end_ms if bounded else None,
                   message.at_ms)


@dataclass(frozen=True)
class Notification:
    """One threshold crossing, numbered in log order for the whole server."""

    number: int
    rule_id: str
    meter_id: str
    customer_id: str
    threshold: decimal.Decimal
    usage: decimal.Decimal
    period_start_ms: int | None
    period_end_ms: int | None
    sequence: int
    at_ms: int

    @classmethod
    def from_message(cls, message) -> "Notification":
        bounded = message.period_end_ms != 0
        return cls(message.number, message.rule_id, message.meter_id, message.customer_id,
                   parse_decimal(message.threshold), parse_decimal(message.usage),
                   message.period_start_ms if bounded else None, message.period_end_ms if bounded else None,
                   message.sequence, message.at_ms)


@dataclass(frozen=True)
class NotificationPage:
    """A ListNotifications answer: the notifications and the number to resume after."""

    notifications: list
    last_number: int
