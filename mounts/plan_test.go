package mounts

import (
	"reflect"
	"testing"
)

func TestPlan(t *testing.T) {
	p := Paths{InDir: "/h/s/in", OutDir: "/h/s/out", GroupDir: "/h/g", GlobalDir: "/h/global", ClaudeShared: "/h/g/.c", RunnerSrc: "/h/g/r"}
	extra := Mount{Source: "/srv/x", Target: "/workspace/extra/x", ReadOnly: true}
	tests := []struct {
		admin    bool
		globalRO bool
	}{{false, true}, {true, false}}
	for _, tt := range tests {
		p.Admin = tt.admin
		got := Plan(p, []Mount{extra})
		want := []Mount{
			{"/h/s/in", "/workspace/in", true},
			{"/h/s/out", "/workspace/out", false},
			{"/h/g", "/workspace/group", false},
			{"/h/global", "/workspace/global", tt.globalRO},
			{"/h/g/.c", "/home/agent/.claude", false},
			{"/h/g/r", "/app/src", false},
			extra,
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("admin=%v:\n got %+v\nwant %+v", tt.admin, got, want)
		}
	}
}
