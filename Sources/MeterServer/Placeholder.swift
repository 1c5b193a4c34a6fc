/// Placeholder: built by the wire-protocol issue (see ../shared/ARCHITECTURE.md).
public enum MeterServerPlaceholder {}
