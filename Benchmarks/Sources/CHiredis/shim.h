// hiredis, Redis's C client (Debian: libhiredis-dev), for the comparison benchmark (meter-compare).
#include <hiredis.h>
