package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/berth-dev/berth/session/gateway/gatewaytest"
)

func TestDoctorImage(t *testing.T) {
	d := gatewaytest.RequireDocker(t)
	gatewaytest.BuildImage(t, d)
	tests := []struct {
		name  string
		image string
		fails bool
		want  []string
	}{
		{"missing", "berth-agent:does-not-exist", true, []string{"FAIL  image", "berth-agent:does-not-exist is not present",
			"fix: berth image build --image berth-agent:does-not-exist"}},
		{"present", gatewaytest.Image, false, []string{"ok    docker      reachable, API version", "ok    image", "all checks passed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doctorEnv(t)
			var out, errOut bytes.Buffer
			err := cmdDoctor(context.Background(), []string{"--image", tt.image}, &out, &errOut)
			var ee exitError
			if failed := errors.As(err, &ee) && ee.code != 0; failed != tt.fails {
				t.Fatalf("err = %v, want failure %v\n%s", err, tt.fails, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
