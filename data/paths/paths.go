// Package paths is the layout of berth's state folder, BERTH_HOME: each
// file and folder berth keeps there is one method of [Home], and no other
// code joins a name onto the home path (TestNoOtherCodeJoinsHomePaths
// scans the module to keep it so). It also finds the default state folder.
//
// It lives under data/ because BERTH_HOME is berth's state, beside the
// store that is most of it, and it is its own package, importing nothing
// of berth's, so that every package (the store, the session manager, the
// credential proxy, the command line and the test harness) can ask it.
//
// The line: paths knows where a session's folder is, not what is inside
// it. The in/ and out/ folders and inbound.db/outbound.db within a session
// folder are the session protocol, sessiondb's constants; what is inside a
// group folder (CLAUDE.md, .claude-shared/, runner-src/) is package
// groups'; the socket inside a proxy folder is the credential proxy's.
//
//	BERTH_HOME/
//	  berth.db                        Store
//	  berth.lock                      Lock
//	  config                          Config (KEY=VALUE lines)
//	  status.json                     Status (while a gateway runs)
//	  groups/                         Groups
//	    global/                       Global
//	    <folder>/                     Group
//	  sessions/                       Sessions
//	    <group id>/<session id>/      Session
//	  logs/                           Logs
//	    berth.log                     GatewayLog
//	    sessions/                     SessionLogs
//	      <session id>.log            SessionLog
//	  run/proxy/<folder>/             ProxyDir
//	  cache/berth-runner              RunnerBin
//	  runners/<folder>/               Runners (a group's own runner builds)
package paths

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Home is a state folder, BERTH_HOME, like [net/http.Dir] names the root
// of a file server. A Home is only a name: nothing here checks or creates
// what it points at, and callers check the names they pass in (group
// folders and session ids are validated where they are made).
type Home string

// The names under a Home, kept here so that they are written once.
const (
	storeFile      = "berth.db"
	lockFile       = "berth.lock"
	configFile     = "config"
	statusFile     = "status.json"
	consoleToken   = "console.token"
	groupsDir      = "groups"
	sessionsDir    = "sessions"
	logsDir        = "logs"
	gatewayLogFile = "berth.log"
	sessionLogsDir = "sessions" // under logs/
	logExt         = ".log"
	runDir         = "run"
	proxyDir       = "proxy" // under run/
	cacheDir       = "cache"
	runnerBinFile  = "berth-runner"
	runnersDir     = "runners"
)

// GlobalFolder is the folder, under [Home.Groups], of the memory every
// group imports; no group may be named so.
const GlobalFolder = "global"

// String is the state folder itself.
func (h Home) String() string { return string(h) }

// Store is the SQLite store, berth.db.
func (h Home) Store() string { return h.join(storeFile) }

// Lock is the file a running gateway holds a lock on, berth.lock.
func (h Home) Lock() string { return h.join(lockFile) }

// Config is the optional KEY=VALUE file read after flags and environment.
func (h Home) Config() string { return h.join(configFile) }

// Status is the JSON status a running gateway rewrites for berth status.
func (h Home) Status() string { return h.join(statusFile) }

// ConsoleToken is the file holding the hash of the web console's access
// token (berth console token writes it; never the token itself).
func (h Home) ConsoleToken() string { return h.join(consoleToken) }

// Groups is the root of the group folders (groups.Layout.Root).
func (h Home) Groups() string { return h.join(groupsDir) }

// Group is the folder of the group with this folder name.
func (h Home) Group(folder string) string { return h.join(groupsDir, folder) }

// Global is the folder of the memory every group imports.
func (h Home) Global() string { return h.Group(GlobalFolder) }

// Sessions is the root of the session folders.
func (h Home) Sessions() string { return h.join(sessionsDir) }

// Session is one session's folder, below its agent group's id (not its
// folder name: a group deleted and created again gets new sessions).
func (h Home) Session(groupID, sessionID string) string {
	return h.join(sessionsDir, groupID, sessionID)
}

// Logs is the log folder.
func (h Home) Logs() string { return h.join(logsDir) }

// GatewayLog is the gateway's JSON log; rotated copies sit beside it.
func (h Home) GatewayLog() string { return h.join(logsDir, gatewayLogFile) }

// SessionLogs is the folder of the agent containers' output.
func (h Home) SessionLogs() string { return h.join(logsDir, sessionLogsDir) }

// SessionLog is the file one session's container output is kept in.
func (h Home) SessionLog(sessionID string) string {
	return h.join(logsDir, sessionLogsDir, sessionID+logExt)
}

// SessionLogID is the session whose log is the file name (a base name in
// [Home.SessionLogs]), the inverse of [Home.SessionLog].
func SessionLogID(name string) (sessionID string, ok bool) {
	return strings.CutSuffix(name, logExt)
}

// ProxyDir is the folder holding the credential proxy's socket for one
// group (by folder name), mounted into its containers.
func (h Home) ProxyDir(folder string) string { return h.join(runDir, proxyDir, folder) }

// RunnerBin is where a runner binary built from source is cached.
func (h Home) RunnerBin() string { return h.join(cacheDir, runnerBinFile) }

// Runners is the folder of the runners built from one group's own runner
// source (by folder name), with their build cache: berth's, never mounted
// writable into an agent's container (container/runnerbuild lays it out).
func (h Home) Runners(folder string) string { return h.join(runnersDir, folder) }

func (h Home) join(elem ...string) string {
	return filepath.Join(append([]string{string(h)}, elem...)...)
}

// Default is the state folder when none is given: $BERTH_HOME, else
// $XDG_DATA_HOME/berth, else ~/.local/share/berth.
func Default() (Home, error) {
	if h := os.Getenv("BERTH_HOME"); h != "" {
		return Home(h), nil
	}
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find home folder: %w (set BERTH_HOME)", err)
		}
		base = filepath.Join(h, ".local", "share")
	}
	return Home(filepath.Join(base, "berth")), nil
}

// Resolve is the state folder every command uses: dir (from --home) if
// set, else [Default]; made absolute and created (0700) if missing.
func Resolve(dir string) (Home, error) {
	h := Home(dir)
	if dir == "" {
		var err error
		if h, err = Default(); err != nil {
			return "", err
		}
	}
	abs, err := filepath.Abs(string(h))
	if err != nil {
		return "", fmt.Errorf("state folder: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", fmt.Errorf("create state folder: %w", err)
	}
	return Home(abs), nil
}
