// berth's busy handler for SQLite connections to session files.
#ifndef BERTH_BUSY_H
#define BERTH_BUSY_H

// busy_register makes every connection the process opens from now on
// have the SQL function berth_busy_handler(ms), which replaces the
// calling connection's busy handler with busy_wait and that timeout.
int busy_register(void);

#endif
