// libpq, PostgreSQL's C client (Debian: libpq-dev), for the comparison benchmark (meter-compare).
#include <libpq-fe.h>
