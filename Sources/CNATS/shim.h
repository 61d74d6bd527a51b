// The NATS C client's API (JetStream, key-value), as Debian's libnats-dev (3.4) installs it.
#include <nats/nats.h>
