// The SQLite C API parts berth's agent-database reader uses, declared as
// the SQLite documentation publishes them (the sqlite3_vfs layout is frozen
// at iVersion 3), so the build needs no system sqlite3.h: they resolve
// against the SQLite that github.com/mattn/go-sqlite3 compiles in.
#ifndef BERTH_AGENTVFS_H
#define BERTH_AGENTVFS_H

// agent_vfs_register registers the VFS named name (a string that lives
// as long as the process) and the automatic extension that hardens every
// connection opened through it, with the given sqlite3_limit values
// (limits[i] = {id, value}). The Go side calls it once per process.
int agent_vfs_register(const char *name, const int (*limits)[2], int n);

#endif
