package groups_test

import (
	"errors"
	"os"
	"path/filepath"
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

// TestREADMETaskDefaults: README's container_config table says the task
// defaults the code uses.
func TestREADMETaskDefaults(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{
		"| `timezone` | the host's (`TZ`) |",
		"| `max_tasks_per_conversation`, `max_tasks` | `20`, `100` |",
		"| `task_grace` | `1h` |",
	} {
		if !strings.Contains(string(b), row) {
			t.Errorf("README has no row starting %s", row)
		}
	}
	if groups.DefaultMaxTasksPerConversation != 20 || groups.DefaultMaxTasksPerGroup != 100 || groups.DefaultTaskGrace != time.Hour {
		t.Error("the task defaults changed: update README and this test")
	}
}
