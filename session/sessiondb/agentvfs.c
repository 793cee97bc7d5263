// A VFS and an automatic extension for the databases an agent writes.
// See agent.go for why; the Go side registers them once.

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>

#include "agentvfs.h"

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_file sqlite3_file;
typedef struct sqlite3_vfs sqlite3_vfs;
typedef void (*sqlite3_syscall_ptr)(void);
struct sqlite3_vfs {
	int iVersion;
	int szOsFile;
	int mxPathname;
	sqlite3_vfs *pNext;
	const char *zName;
	void *pAppData;
	int (*xOpen)(sqlite3_vfs *, const char *, sqlite3_file *, int, int *);
	int (*xDelete)(sqlite3_vfs *, const char *, int);
	int (*xAccess)(sqlite3_vfs *, const char *, int, int *);
	int (*xFullPathname)(sqlite3_vfs *, const char *, int, char *);
	void *(*xDlOpen)(sqlite3_vfs *, const char *);
	void (*xDlError)(sqlite3_vfs *, int, char *);
	void (*(*xDlSym)(sqlite3_vfs *, void *, const char *))(void);
	void (*xDlClose)(sqlite3_vfs *, void *);
	int (*xRandomness)(sqlite3_vfs *, int, char *);
	int (*xSleep)(sqlite3_vfs *, int);
	int (*xCurrentTime)(sqlite3_vfs *, double *);
	int (*xGetLastError)(sqlite3_vfs *, int, char *);
	int (*xCurrentTimeInt64)(sqlite3_vfs *, long long *);
	int (*xSetSystemCall)(sqlite3_vfs *, const char *, sqlite3_syscall_ptr);
	sqlite3_syscall_ptr (*xGetSystemCall)(sqlite3_vfs *, const char *);
	const char *(*xNextSystemCall)(sqlite3_vfs *, const char *);
};

sqlite3_vfs *sqlite3_vfs_find(const char *);
int sqlite3_vfs_register(sqlite3_vfs *, int);
int sqlite3_auto_extension(void (*)(void));
int sqlite3_db_config(sqlite3 *, int, ...);
int sqlite3_limit(sqlite3 *, int, int);
int sqlite3_file_control(sqlite3 *, const char *, int, void *);

#define SQLITE_OK 0
#define SQLITE_ERROR 1
#define SQLITE_CANTOPEN 14
#define SQLITE_FCNTL_VFS_POINTER 27
#define SQLITE_DBCONFIG_ENABLE_FKEY 1002
#define SQLITE_DBCONFIG_ENABLE_TRIGGER 1003
#define SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION 1005
#define SQLITE_DBCONFIG_DEFENSIVE 1010
#define SQLITE_DBCONFIG_ENABLE_VIEW 1015
#define SQLITE_DBCONFIG_TRUSTED_SCHEMA 1017

#define FD_PREFIX "/proc/self/fd/"
#define MAX_LIMITS 32

static sqlite3_vfs agent_vfs;
static int (*unix_open)(const char *, int, int);
static int agent_limits[MAX_LIMITS][2];
static int agent_nlimits;

// fd_name reports whether name is exactly "/proc/self/fd/<digits>", and
// which descriptor it names.
static int fd_name(const char *name, int *fd) {
	if (strncmp(name, FD_PREFIX, sizeof FD_PREFIX - 1) != 0) {
		return 0;
	}
	const char *p = name + sizeof FD_PREFIX - 1;
	int n = 0;
	if (*p == 0) {
		return 0;
	}
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || n > 100000000) {
			return 0;
		}
		n = n * 10 + (*p - '0');
	}
	*fd = n;
	return 1;
}

// agent_full_pathname keeps a "/proc/self/fd/N" name as it is. The unix
// VFS would resolve that magic link to the path it names and open the
// path again, which the agent can have replaced in between; kept as is,
// agent_open hands SQLite the very descriptor berth opened and checked.
// The journal SQLite derives from it, "/proc/self/fd/N-journal", never
// exists, so a journal the agent planted next to outbound.db (a symlink,
// a FIFO) is never opened. Any other name is refused: this VFS is only for
// files berth opened itself.
static int agent_full_pathname(sqlite3_vfs *vfs, const char *name, int n_out, char *out) {
	(void)vfs;
	size_t n = strlen(name);
	int fd;
	if (!fd_name(name, &fd) || n + 1 > (size_t)n_out) {
		return SQLITE_CANTOPEN;
	}
	memcpy(out, name, n + 1);
	return SQLITE_OK;
}

// agent_open replaces open(2) in the unix VFS's system-call table (which
// every unix VFS shares, berth_agent included). For an exact
// "/proc/self/fd/N" name it returns a duplicate of descriptor N rather
// than reopening: SQLite opens every file with O_NOFOLLOW, which fails on
// /proc's magic links, so without this such a name never opens at all;
// only names that would fail anyway behave differently. It opens nothing
// for writing that way. Every other name goes to the real open(2), so the
// "/proc/self/fd/N-journal" SQLite derives is looked up as a name, and
// does not exist.
static int agent_open(const char *name, int flags, int mode) {
	int fd;
	if (!fd_name(name, &fd)) {
		return unix_open(name, flags, mode);
	}
	if ((flags & O_ACCMODE) != O_RDONLY) {
		errno = EACCES;
		return -1;
	}
	return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

// agent_harden runs inside sqlite3_open_v2 for every connection of the
// process, before any statement (go-sqlite3's own PRAGMAs parse the schema
// before its ConnectHook runs, too late for limits). It changes only
// connections opened through agent_vfs.
static int agent_harden(sqlite3 *db, char **err, const void *api) {
	(void)err;
	(void)api;
	sqlite3_vfs *vfs = NULL;
	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_VFS_POINTER, &vfs) != SQLITE_OK || vfs != &agent_vfs) {
		return SQLITE_OK;
	}
	static const int off[][2] = {
		{SQLITE_DBCONFIG_DEFENSIVE, 1},
		{SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0},
		{SQLITE_DBCONFIG_ENABLE_VIEW, 0},
		{SQLITE_DBCONFIG_ENABLE_TRIGGER, 0},
		{SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0},
		{SQLITE_DBCONFIG_ENABLE_FKEY, 0},
	};
	for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
		int now = -1;
		if (sqlite3_db_config(db, off[i][0], off[i][1], &now) != SQLITE_OK || now != off[i][1]) {
			return SQLITE_ERROR;
		}
	}
	for (int i = 0; i < agent_nlimits; i++) {
		sqlite3_limit(db, agent_limits[i][0], agent_limits[i][1]);
	}
	return SQLITE_OK;
}

int agent_vfs_register(const char *name, const int (*limits)[2], int n) {
	if (n > MAX_LIMITS) {
		return SQLITE_ERROR;
	}
	memcpy(agent_limits, limits, (size_t)n * sizeof limits[0]);
	agent_nlimits = n;
	sqlite3_vfs *unix_vfs = sqlite3_vfs_find("unix");
	if (unix_vfs == NULL) {
		return SQLITE_ERROR;
	}
	unix_open = (int (*)(const char *, int, int))unix_vfs->xGetSystemCall(unix_vfs, "open");
	if (unix_open == NULL || unix_vfs->xSetSystemCall(unix_vfs, "open", (sqlite3_syscall_ptr)agent_open) != SQLITE_OK) {
		return SQLITE_ERROR;
	}
	agent_vfs = *unix_vfs;
	agent_vfs.pNext = NULL;
	agent_vfs.zName = name;
	agent_vfs.xFullPathname = agent_full_pathname;
	int rc = sqlite3_vfs_register(&agent_vfs, 0);
	if (rc != SQLITE_OK) {
		return rc;
	}
	return sqlite3_auto_extension((void (*)(void))agent_harden);
}
