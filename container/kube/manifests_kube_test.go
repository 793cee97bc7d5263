package kube_test

import (
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/container/kube/kubetest"
)

// TestKubeManifestsAdmitted sends every manifest of docs/kubernetes to
// the API server as a server-side dry run: each object is valid and
// admitted as written (namespaced ones in a test namespace).
func TestKubeManifestsAdmitted(t *testing.T) {
	c := kubetest.Require(t)
	ns := c.Namespace(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "kubernetes", "*.yaml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("manifests: %v, %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := c.DryRun(t, ns, f); err != nil {
				t.Fatal(err)
			}
		})
	}
}
