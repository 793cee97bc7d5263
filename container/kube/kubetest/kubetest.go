// Package kubetest is TEST-ONLY help for testing berth's Kubernetes
// runtime: client-go's fake clientset with a stand-in kubelet for unit
// tests (Fake), and, for the *_kube_test.go files, the real cluster that
// .ci/kube/up starts (Require, Cluster.Import), and the check of an agent
// Pod's security fields as the API reports them (SecurityProblems).
//
// A real-cluster test skips without a cluster (no KUBECONFIG and
// BERTH_KUBE_CONTAINERD, neither in the environment nor in the env file
// BERTH_KUBE_ENV names: only a cluster .ci/kube/up started is used) and
// fails instead when BERTH_REQUIRE_KUBE=1, as CI sets it. No production
// code may import it.
package kubetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/restmapper"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/berth-dev/berth/container/kube"
)

// Fake is client-go's fake clientset with a stand-in kubelet: each Pod
// created gets a UID, a creation time and whatever Start does to it (say,
// the Running phase), and each watch started is announced on Watches, so
// a test can change a Pod only once the watcher is listening.
type Fake struct {
	Clientset *fake.Clientset
	Watches   chan struct{}
	Namespace string
	uids      atomic.Int64
}

// NewFake returns a fake cluster; start, if not nil, is the kubelet's
// first word on each new Pod.
func NewFake(start func(*corev1.Pod)) *Fake {
	f := &Fake{Clientset: fake.NewClientset(), Watches: make(chan struct{}, 1000), Namespace: "berth"}
	f.Clientset.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.UID = types.UID(fmt.Sprintf("uid-%d", f.uids.Add(1)))
		p.CreationTimestamp = metav1.Now()
		if start != nil {
			start(p)
		}
		return false, p, nil // the tracker stores it, and refuses a second of a name
	})
	f.Clientset.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		w, err := f.Clientset.Tracker().Watch(a.GetResource(), a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		select {
		case f.Watches <- struct{}{}:
		default:
		}
		return true, w, nil
	})
	return f
}

// Running is a Start that runs each Pod at once.
func Running(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning }

// Runtime is a runtime on the fake cluster, in its namespace, with home
// /srv/berth unless cfg names one.
func (f *Fake) Runtime(t testing.TB, cfg kube.Config) *kube.Runtime {
	t.Helper()
	if cfg.Home == "" {
		cfg.Home = "/srv/berth"
	}
	cfg.Namespace = f.Namespace
	r, err := kube.NewForClient(f.Clientset, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Pods lists the fake cluster's Pods.
func (f *Fake) Pods(t testing.TB) []corev1.Pod {
	t.Helper()
	list, err := f.Clientset.CoreV1().Pods(f.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// SetStatus changes a Pod's status as its kubelet would.
func (f *Fake) SetStatus(t testing.TB, name string, set func(*corev1.PodStatus)) {
	t.Helper()
	pods := f.Clientset.CoreV1().Pods(f.Namespace)
	p, err := pods.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	set(&p.Status)
	if _, err := pods.UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// DrainWatches forgets the watches announced so far.
func (f *Fake) DrainWatches() {
	for len(f.Watches) > 0 {
		<-f.Watches
	}
}

// SecurityProblems lists what an agent Pod's spec lacks of the box the
// issue asks for; none is nil.
func SecurityProblems(p *corev1.Pod) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	s := p.Spec
	if s.RestartPolicy != corev1.RestartPolicyNever {
		bad("restartPolicy %q, want Never", s.RestartPolicy)
	}
	if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
		bad("automountServiceAccountToken not false")
	}
	if s.EnableServiceLinks == nil || *s.EnableServiceLinks {
		bad("enableServiceLinks not false")
	}
	if s.HostNetwork || s.HostPID || s.HostIPC {
		bad("shares a host namespace")
	}
	if s.SecurityContext == nil || s.SecurityContext.SeccompProfile == nil || s.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		bad("pod seccomp not RuntimeDefault")
	}
	if len(s.Containers) != 1 || len(s.InitContainers) != 0 || len(s.EphemeralContainers) != 0 {
		bad("%d containers, want the agent only", len(s.Containers)+len(s.InitContainers)+len(s.EphemeralContainers))
		return out
	}
	c := s.Containers[0]
	sc := c.SecurityContext
	switch {
	case sc == nil:
		bad("no container securityContext")
		return out
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		bad("runAsNonRoot not true")
	}
	if sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		bad("runAsUser not a non-root uid")
	}
	if sc.Privileged != nil && *sc.Privileged {
		bad("privileged")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		bad("allowPrivilegeEscalation not false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		bad("readOnlyRootFilesystem not true")
	}
	if sc.Capabilities == nil || len(sc.Capabilities.Add) > 0 || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		bad("capabilities %+v, want drop ALL, add none", sc.Capabilities)
	}
	if len(c.EnvFrom) > 0 {
		bad("envFrom set")
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			bad("env %s comes from an object", e.Name)
		}
	}
	tmp := false
	for _, v := range s.Volumes {
		if v.Secret != nil || v.Projected != nil || v.ConfigMap != nil {
			bad("volume %s carries a secret, projection or config map", v.Name)
		}
		if v.EmptyDir != nil && v.EmptyDir.SizeLimit != nil && !v.EmptyDir.SizeLimit.IsZero() {
			for _, m := range c.VolumeMounts {
				tmp = tmp || m.Name == v.Name && m.MountPath == "/tmp"
			}
		}
	}
	if !tmp {
		bad("/tmp is not an emptyDir with a size limit")
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		bad("no memory limit")
	}
	if _, ok := c.Resources.Limits[corev1.ResourceCPU]; !ok {
		bad("no cpu limit")
	}
	return out
}

// Cluster is the real cluster a *_kube_test.go runs against.
type Cluster struct {
	// Kubeconfig is the admin kubeconfig .ci/kube/up wrote.
	Kubeconfig string
	// Containerds are the sockets of each node's containerd, for images.
	Containerds []string
	// Ctr is the ctr binary that imports images into them.
	Ctr string
	// Nodes is how many nodes the cluster has (BERTH_KUBE_NODES names them).
	Nodes int
}

// Require returns the cluster of the environment (or of the env file
// BERTH_KUBE_ENV names), or skips the test without one, or under -short;
// with BERTH_REQUIRE_KUBE=1 it fails instead of skipping.
func Require(t testing.TB) *Cluster {
	t.Helper()
	required := os.Getenv("BERTH_REQUIRE_KUBE") == "1"
	if testing.Short() && !required {
		t.Skip("needs a Kubernetes cluster; skipped under -short (BERTH_REQUIRE_KUBE=1 runs it)")
	}
	env, err := clusterEnv()
	switch {
	case err != nil:
	case env["KUBECONFIG"] == "":
		err = errors.New("KUBECONFIG is not set (source the env file .ci/kube/up writes, or set BERTH_KUBE_ENV to it)")
	case env["BERTH_KUBE_CONTAINERD"] == "":
		// A KUBECONFIG of one's own (a real cluster) is never the
		// tests': they make namespaces, volumes and Pods.
		err = errors.New("KUBECONFIG is set, but not by .ci/kube/up's env file (no BERTH_KUBE_CONTAINERD): the tests leave that cluster alone")
	}
	var c *Cluster
	if err == nil {
		c = &Cluster{Kubeconfig: env["KUBECONFIG"], Ctr: cmpOr(env["BERTH_KUBE_CTR"], "ctr"), Nodes: 1}
		for _, k := range []string{"BERTH_KUBE_CONTAINERD", "BERTH_KUBE_CONTAINERD_2"} {
			if s := env[k]; s != "" {
				c.Containerds = append(c.Containerds, s)
			}
		}
		if names := strings.Fields(env["BERTH_KUBE_NODES"]); len(names) > 0 {
			c.Nodes = len(names)
		}
	}
	if err == nil {
		err = c.ping()
	}
	if err != nil {
		if required {
			t.Fatalf("a Kubernetes cluster is required (BERTH_REQUIRE_KUBE=1): %v", err)
		}
		t.Skipf("no Kubernetes cluster: %v", err)
	}
	return c
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// clusterEnv is the environment, with the env file's lines over it when
// BERTH_KUBE_ENV names one.
func clusterEnv() (map[string]string, error) {
	env := map[string]string{}
	for _, k := range []string{"KUBECONFIG", "BERTH_KUBE_CONTAINERD", "BERTH_KUBE_CONTAINERD_2", "BERTH_KUBE_NODES", "BERTH_KUBE_CTR"} {
		env[k] = os.Getenv(k)
	}
	file := os.Getenv("BERTH_KUBE_ENV")
	if file == "" {
		return env, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("BERTH_KUBE_ENV: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			env[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return env, sc.Err()
}

// ping checks the API server answers.
func (c *Cluster) ping() error {
	r, err := kube.New(kube.Config{Kubeconfig: c.Kubeconfig, Home: "/"})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = r.Ping(ctx)
	return err
}

// Runtime is a runtime on the cluster with cfg (its Kubeconfig set).
func (c *Cluster) Runtime(t testing.TB, cfg kube.Config) *kube.Runtime {
	t.Helper()
	cfg.Kubeconfig = c.Kubeconfig
	r, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Namespace makes a namespace for one test, deleted (with its Pods) when
// the test ends.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	r := c.Runtime(t, kube.Config{Home: "/"})
	name := fmt.Sprintf("berth-test-%d-%d", os.Getpid(), nsSeq.Add(1))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"berth.test": "1"}}}
	if _, err := r.Clientset().CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The namespace's default service account is made by the controller
	// manager; Pods are refused until it exists.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := r.Clientset().CoreV1().ServiceAccounts(name).Get(context.Background(), "default", metav1.GetOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s has no default service account: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		zero := int64(1)
		if err := r.Clientset().CoreV1().Pods(name).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{}); err != nil {
			t.Logf("delete pods of %s: %v", name, err)
		}
		if err := r.Clientset().CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Logf("delete namespace %s: %v", name, err)
		}
	})
	return name
}

var nsSeq atomic.Int64

var (
	importMu   sync.Mutex // guards imported and importedOn
	imported   = map[string]error{}
	importedOn = map[string]bool{}
)

// Import copies a Docker image into every node's containerd (docker save
// | ctr import), once per test binary.
func (c *Cluster) Import(t testing.TB, image string) {
	t.Helper()
	importMu.Lock()
	defer importMu.Unlock()
	if importedOn[image] {
		if err := imported[image]; err != nil {
			t.Fatalf("import %s: %v", image, err)
		}
		return
	}
	importedOn[image] = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var errs []error
	for _, sock := range c.Containerds {
		errs = append(errs, importImage(ctx, c.Ctr, sock, image))
	}
	if len(c.Containerds) == 0 {
		errs = append(errs, errors.New("no containerd socket (BERTH_KUBE_CONTAINERD) to import into"))
	}
	imported[image] = errors.Join(errs...)
	if err := imported[image]; err != nil {
		t.Fatalf("import %s: %v", image, err)
	}
}

func importImage(ctx context.Context, ctr, sock, image string) error {
	dir, err := os.MkdirTemp("", "berth-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tar := filepath.Join(dir, "image.tar")
	if out, err := exec.CommandContext(ctx, "docker", "save", "-o", tar, image).CombinedOutput(); err != nil {
		return fmt.Errorf("docker save %s: %w: %s", image, err, out)
	}
	if out, err := exec.CommandContext(ctx, ctr, "--address", sock, "-n", "k8s.io", "images", "import", tar).CombinedOutput(); err != nil {
		return fmt.Errorf("ctr import into %s: %w: %s", sock, err, out)
	}
	return nil
}

// ApplyRoles creates, in namespace ns, the Roles and RoleBindings of a
// manifest (docs/kubernetes/rbac.yaml), with their namespace and their
// subjects' set to ns; its other objects are left out.
func (c *Cluster) ApplyRoles(t testing.TB, ns, manifest string) {
	t.Helper()
	f, err := os.Open(manifest)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cs := c.Runtime(t, kube.Config{Home: "/"}).Clientset()
	ctx := context.Background()
	dec := yaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return
		} else if err != nil {
			t.Fatalf("%s: %v", manifest, err)
		}
		switch obj["kind"] {
		case "Role":
			var r rbacv1.Role
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &r); err != nil {
				t.Fatal(err)
			}
			r.Namespace = ns
			if _, err := cs.RbacV1().Roles(ns).Create(ctx, &r, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		case "RoleBinding":
			var b rbacv1.RoleBinding
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &b); err != nil {
				t.Fatal(err)
			}
			b.Namespace = ns
			for i := range b.Subjects {
				b.Subjects[i].Namespace = ns
			}
			if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &b, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// ServiceAccountKubeconfig makes the service account name in ns (if it
// does not exist) and writes a kubeconfig that authenticates as it, with a
// token from the TokenRequest API, for the cluster's API server.
func (c *Cluster) ServiceAccountKubeconfig(t testing.TB, ns, name string) string {
	t.Helper()
	cs := c.Runtime(t, kube.Config{Home: "/"}).Clientset()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	secs := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ctxName := admin.CurrentContext
	cluster := admin.Clusters[admin.Contexts[ctxName].Cluster]
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster"] = cluster
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: name, Namespace: ns}
	cfg.CurrentContext = name
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// DryRun sends every object of a manifest to the API server as a
// server-side dry run (validated, admitted, never stored), namespaced ones
// into ns, and returns the first refusal.
func (c *Cluster) DryRun(t testing.TB, ns, manifest string) error {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return err
	}
	groups, err := restmapper.GetAPIGroupResources(dc)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return err
	}
	f, err := os.Open(manifest)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := yaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("%s: %w", manifest, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", manifest, gvk, err)
		}
		ri := dyn.Resource(m.Resource)
		opts := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}
		var res dynamic.ResourceInterface = ri
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			obj.SetNamespace(ns)
			res = ri.Namespace(ns)
		}
		if _, err := res.Create(context.Background(), &obj, opts); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s: %s %s: %w", manifest, gvk.Kind, obj.GetName(), err)
		}
	}
}
