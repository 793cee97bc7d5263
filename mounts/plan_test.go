package mounts

import (
	"reflect"
	"strings"
	"testing"
)

func TestPlan(t *testing.T) {
	p := Paths{InDir: "/h/sessions/g/s/in", OutDir: "/h/sessions/g/s/out", GroupDir: "/h/groups/g", GlobalDir: "/h/groups/global",
		AgentTrees: []string{"/h/groups", "/h/sessions"}}
	extra := Mount{Source: "/srv/x", Target: "/workspace/extra/x", ReadOnly: true}
	tests := []struct {
		admin    bool
		globalRO bool
	}{{false, true}, {true, false}}
	for _, tt := range tests {
		p.Admin = tt.admin
		got, err := Plan(p, []Mount{extra})
		if err != nil {
			t.Fatal(err)
		}
		want := []Mount{
			{"/h/sessions/g/s/in", "/workspace/in", true},
			{"/h/sessions/g/s/out", "/workspace/out", false},
			{"/h/groups/g", "/workspace/group", false},
			{"/h/groups/global", "/workspace/global", tt.globalRO},
			extra,
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("admin=%v:\n got %+v\nwant %+v", tt.admin, got, want)
		}
		// The group folder is mounted once, as a whole: nothing from
		// inside it (nor inside any folder an agent writes) is a source.
		for _, m := range got {
			if strings.HasPrefix(m.Source, p.GroupDir+"/") || strings.HasPrefix(m.Source, p.OutDir+"/") {
				t.Errorf("source %s lies inside a folder the agent writes", m.Source)
			}
		}
	}
}

func TestPlanRefusesExtrasFromAgentTrees(t *testing.T) {
	p := Paths{InDir: "/h/sessions/g/s/in", OutDir: "/h/sessions/g/s/out", GroupDir: "/h/groups/g", GlobalDir: "/h/groups/global",
		AgentTrees: []string{"/h/groups", "/h/sessions"}}
	tests := []struct {
		source  string
		wantErr string
	}{
		{"/h/run/proxy/g", ""},
		{"/h/groups-other", ""}, // a sibling sharing a name prefix
		{"/h/groups/g/runner-src", "inside /h/groups"},
		{"/h/groups/g/.claude-shared", "inside /h/groups"},
		{"/h/groups/other/x", "inside /h/groups"},
		{"/h/sessions/g/s/out/link", "inside /h/sessions"},
		{"/h/run/../groups/g/x", "inside /h/groups"},
		{"relative/path", "not an absolute path"},
	}
	for _, tt := range tests {
		_, err := Plan(p, []Mount{{Source: tt.source, Target: "/run/berth", ReadOnly: true}})
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("Plan with extra %s: err = %v, want %q", tt.source, err, tt.wantErr)
		}
	}
}
