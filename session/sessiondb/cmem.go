package sessiondb

// SQLite's memory is C memory, from malloc: every connection opened,
// to a session file or to the agent's, allocates its caches there and
// frees them on close. glibc's malloc gives each thread that allocates
// an arena of its own (up to 8 a core), and keeps what is freed in them:
// a gateway that has answered a thousand sessions from its dozens of
// threads held ~120 MB of freed SQLite memory at rest (docs/performance.md).
// So the process uses two arenas, and gives the free pages back when the
// pool has closed its last connection (pool.go's sweep).

/*
#include "cmem.h"
*/
import "C"

// limitArenas caps malloc's arenas; it runs at start-up.
func limitArenas() { C.cmem_limit_arenas() }

// trimMemory gives malloc's free pages back to the system.
func trimMemory() { C.cmem_trim() }
