// The official NATS C client (Debian: libnats-dev), for cluster mode's replicated log on
// JetStream (Sources/MeterCluster, docs/cluster.md).
#include <nats/nats.h>

// jsSubOptions.Config.OptStartSeq and friends are plain fields; nothing else is needed here.
