package main

import (
	"io"
	"strings"
	"testing"
)

// TestRuntimeSettings checks --runtime and the Kubernetes settings come
// from flags or the config file like every setting, reach the gateway's
// configuration, and that a bad value is refused naming the setting.
func TestRuntimeSettings(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		file    string
		want    string // "" for Docker: the gateway gets no Kubernetes config
		wantErr string
	}{
		{name: "default docker", want: ""},
		{name: "flags", args: []string{"--runtime", "kubernetes", "--kubeconfig", "/k", "--namespace", "ns", "--kube-claim", "home"},
			want: "/k ns home IfNotPresent"},
		{name: "file", file: "BERTH_RUNTIME=kubernetes\nBERTH_NAMESPACE=fromfile\nBERTH_KUBE_PULL_POLICY=Never\n", want: " fromfile  Never"},
		{name: "flag over file", args: []string{"--runtime", "docker"}, file: "BERTH_RUNTIME=kubernetes\n", want: ""},
		{name: "bad runtime", args: []string{"--runtime", "podman"}, wantErr: "want docker or kubernetes"},
		{name: "bad pull policy", args: []string{"--runtime", "kubernetes", "--kube-pull-policy", "Sometimes"}, wantErr: "--kube-pull-policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			for _, k := range []string{"BERTH_RUNTIME", "BERTH_KUBECONFIG", "BERTH_NAMESPACE", "BERTH_KUBE_CLAIM", "BERTH_KUBE_NODE", "BERTH_KUBE_PULL_POLICY"} {
				unsetenv(t, k)
			}
			if tt.file != "" {
				writeConfig(t, home, tt.file)
			}
			c := &commandLine{stderr: io.Discard}
			fs := c.flagSet("test")
			var cfg config
			cfg.settings(fs, append([]string{flagHome}, runtimeSettings...)...)
			err := fs.Parse(append([]string{"--home", home}, tt.args...))
			if err == nil {
				err = cfg.resolve(fs)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			kc := gatewayKube(cfg)
			got := ""
			if kc != nil {
				got = strings.Join([]string{kc.Kubeconfig, kc.Namespace, kc.Claim, string(kc.PullPolicy)}, " ")
				if kc.Home != home {
					t.Errorf("home = %q, want %q", kc.Home, home)
				}
			}
			if got != tt.want {
				t.Errorf("kubernetes config = %q, want %q", got, tt.want)
			}
		})
	}
}
