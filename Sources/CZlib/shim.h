// The system zlib (Debian: zlib1g-dev), for reading .ndjson.gz bulk exports.
#include <zlib.h>
