// The system SQLite 3 (Debian: libsqlite3-dev), the embedded record store.
#include <sqlite3.h>
