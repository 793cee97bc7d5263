// A busy handler that waits for another process's lock in steps of
// 100 µs: SQLite's own (sqlite3_busy_timeout) sleeps 1, 2, 5, 10 ms, so a
// reader met by a commit that ends 0.1 ms later waits 1 ms, and a writer
// met by a reader waits up to 8 (docs/performance.md). See busy.go.

#include <stdint.h>
#include <time.h>

#include "busy.h"

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_context sqlite3_context;
typedef struct sqlite3_value sqlite3_value;

int sqlite3_auto_extension(void (*)(void));
int sqlite3_busy_handler(sqlite3 *, int (*)(void *, int), void *);
int sqlite3_create_function(sqlite3 *, const char *, int, int, void *,
	void (*)(sqlite3_context *, int, sqlite3_value **),
	void (*)(sqlite3_context *, int, sqlite3_value **),
	void (*)(sqlite3_context *));
sqlite3 *sqlite3_context_db_handle(sqlite3_context *);
int sqlite3_value_int(sqlite3_value *);
void sqlite3_result_int(sqlite3_context *, int);

#define SQLITE_OK 0
#define SQLITE_UTF8 1
#define SQLITE_DIRECTONLY 0x000080000

// Waits are 100 µs for the first FINE_FOR_US of a wait (every commit and
// read of a session file is over well within it), then 1 ms.
#define FINE_STEP_US 100
#define FINE_FOR_US 20000
#define COARSE_STEP_US 1000

static int64_t now_us(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

// busy_wait is SQLite's busy handler: count is 0 on a wait's first call,
// and one wait runs on one thread, so its start is kept per thread. It
// measures the time waited rather than adding up its sleeps, which a
// loaded machine makes longer than asked.
static int busy_wait(void *arg, int count) {
	static __thread int64_t start;
	int64_t now = now_us();
	if (count == 0) {
		start = now;
	}
	int64_t waited = now - start;
	int64_t limit = (int64_t)(intptr_t)arg * 1000;
	if (waited >= limit) {
		return 0;
	}
	int64_t step = waited < FINE_FOR_US ? FINE_STEP_US : COARSE_STEP_US;
	if (step > limit - waited) {
		step = limit - waited;
	}
	struct timespec d = {(time_t)(step / 1000000), (long)(step % 1000000) * 1000};
	nanosleep(&d, NULL);
	return 1;
}

static void busy_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
	(void)argc;
	int ms = sqlite3_value_int(argv[0]);
	if (ms < 0) {
		ms = 0;
	}
	sqlite3_busy_handler(sqlite3_context_db_handle(ctx), busy_wait, (void *)(intptr_t)ms);
	sqlite3_result_int(ctx, ms);
}

// busy_init runs inside sqlite3_open_v2 for every connection. Direct
// only: no schema, view or trigger can call it.
static int busy_init(sqlite3 *db, char **err, const void *api) {
	(void)err;
	(void)api;
	return sqlite3_create_function(db, "berth_busy_handler", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL, busy_fn, NULL, NULL);
}

int busy_register(void) {
	return sqlite3_auto_extension((void (*)(void))busy_init);
}
