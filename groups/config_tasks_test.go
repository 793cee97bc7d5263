package groups_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/groups"
)

func TestTaskConfig(t *testing.T) {
	c, err := groups.ParseConfig("", "", `{"timezone":"Europe/Paris","max_tasks_per_conversation":3,"max_tasks":7,"task_grace":"10m"}`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Location().String() != "Europe/Paris" || c.Zone() != "Europe/Paris" {
		t.Errorf("Location = %s, want Europe/Paris", c.Location())
	}
	if conv, group := c.TaskLimits(); conv != 3 || group != 7 {
		t.Errorf("TaskLimits = %d, %d; want 3, 7", conv, group)
	}
	if c.Grace() != 10*time.Minute {
		t.Errorf("Grace = %s", c.Grace())
	}
	var zero groups.Config
	if conv, group := zero.TaskLimits(); conv != groups.DefaultMaxTasksPerConversation || group != groups.DefaultMaxTasksPerGroup {
		t.Errorf("default limits = %d, %d", conv, group)
	}
	if zero.Grace() != groups.DefaultTaskGrace {
		t.Errorf("default grace = %s", zero.Grace())
	}
	t.Setenv("TZ", "America/New_York")
	if zero.Zone() != "America/New_York" || zero.Location().String() != "America/New_York" {
		t.Errorf("the default zone with TZ=America/New_York is %s", zero.Zone())
	}
	for _, tc := range []struct{ config, field string }{
		{`{"timezone":"Mars/Olympus"}`, "timezone"},
		{`{"timezone":"Local"}`, "timezone"},
		{`{"timezone":"../../etc/passwd"}`, "timezone"},
		{`{"timezone":5}`, "timezone"},
		{`{"max_tasks":0}`, "max_tasks"},
		{`{"max_tasks_per_conversation":-1}`, "max_tasks_per_conversation"},
		{`{"task_grace":"soon"}`, "task_grace"},
	} {
		_, err := groups.ParseConfig("", "", tc.config)
		var ce *groups.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("ParseConfig(%s) = %v, want a refusal naming %s", tc.config, err, tc.field)
		}
	}
}

// TestTaskDefaults: the task defaults README's generated table shows
// (TestREADMEKeys) are the ones the code uses.
func TestTaskDefaults(t *testing.T) {
	var c groups.Config
	if per, all := c.TaskLimits(); per != 20 || all != 100 || c.Grace() != time.Hour {
		t.Errorf("task defaults %d, %d, %v; want 20, 100, 1h (update README with go test ./groups -update)", per, all, c.Grace())
	}
}
