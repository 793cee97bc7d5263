package kube_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	k8stesting "k8s.io/client-go/testing"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/container/kube"
	"github.com/berth-dev/berth/container/kube/kubetest"
	"github.com/berth-dev/berth/mounts"
)

func testSpec() container.Spec {
	return container.Spec{
		Name:  "berth-main-0123456789ab",
		Image: "berth-agent:latest",
		Cmd:   []string{"--in", "/workspace/in", "--out", "/workspace/out", "--provider", "echo"},
		Env:   []string{"BERTH_SESSION=0123456789abcdef", "TZ=UTC"},
		User:  "10001:10001",
		Labels: map[string]string{
			container.LabelSession: "0123456789abcdef", container.LabelGroup: "main", container.LabelHome: "/srv/berth",
		},
		Mounts: []mounts.Mount{
			{Source: "/srv/berth/sessions/g/s/in", Target: "/workspace/in", ReadOnly: true},
			{Source: "/srv/berth/sessions/g/s/out", Target: "/workspace/out"},
			{Source: "/srv/berth/groups/main", Target: "/workspace/group"},
			{Source: "/srv/berth/run/proxy/main", Target: "/run/berth", ReadOnly: true},
		},
		Memory:   1 << 30,
		NanoCPUs: 1e9,
	}
}

func TestPodSpec(t *testing.T) {
	f := kubetest.NewFake(kubetest.Running)
	tests := []struct {
		name  string
		cfg   kube.Config
		check func(t *testing.T, p *corev1.Pod)
	}{
		{"hostPath", kube.Config{}, func(t *testing.T, p *corev1.Pod) {
			var paths []string
			for _, v := range p.Spec.Volumes {
				if v.HostPath != nil {
					paths = append(paths, v.HostPath.Path)
				}
				if v.PersistentVolumeClaim != nil {
					t.Errorf("volume %s is a claim in the hostPath shape", v.Name)
				}
			}
			want := "/srv/berth/sessions/g/s/in /srv/berth/sessions/g/s/out /srv/berth/groups/main /srv/berth/run/proxy/main"
			if got := strings.Join(paths, " "); got != want {
				t.Errorf("hostPaths = %s, want %s", got, want)
			}
			if p.Spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent {
				t.Errorf("pull policy %s, want IfNotPresent by default", p.Spec.Containers[0].ImagePullPolicy)
			}
		}},
		{"pvc", kube.Config{Claim: "berth-home", PullPolicy: corev1.PullNever, Node: "n1"}, func(t *testing.T, p *corev1.Pod) {
			if len(p.Spec.Volumes) != 2 || p.Spec.Volumes[0].PersistentVolumeClaim == nil || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "berth-home" {
				t.Fatalf("volumes = %+v, want the claim and /tmp", p.Spec.Volumes)
			}
			var subs []string
			for _, m := range p.Spec.Containers[0].VolumeMounts {
				if m.Name == "berth-home" {
					subs = append(subs, fmt.Sprintf("%s=%s,%v", m.MountPath, m.SubPath, m.ReadOnly))
				}
			}
			want := "/workspace/in=sessions/g/s/in,true /workspace/out=sessions/g/s/out,false /workspace/group=groups/main,false /run/berth=run/proxy/main,true"
			if got := strings.Join(subs, " "); got != want {
				t.Errorf("subPaths = %s, want %s", got, want)
			}
			if p.Spec.Containers[0].ImagePullPolicy != corev1.PullNever {
				t.Errorf("pull policy %s, want the configured Never", p.Spec.Containers[0].ImagePullPolicy)
			}
			if p.Spec.NodeSelector["kubernetes.io/hostname"] != "n1" {
				t.Errorf("node selector %v, want pinned to n1", p.Spec.NodeSelector)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.Runtime(t, tt.cfg)
			info, _, err := r.Ensure(context.Background(), testSpec())
			if err != nil {
				t.Fatal(err)
			}
			p, err := r.Pod(context.Background(), info.ID)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := r.Remove(context.Background(), info.ID); err != nil {
					t.Error(err)
				}
			})
			if errs := kubetest.SecurityProblems(p); len(errs) > 0 {
				t.Errorf("security: %v", errs)
			}
			c := p.Spec.Containers[0]
			if p.Name != "berth-main-0123456789ab" {
				t.Errorf("name %s", p.Name)
			}
			if strings.Join(c.Args, " ") != strings.Join(testSpec().Cmd, " ") {
				t.Errorf("args %v", c.Args)
			}
			if len(c.Env) != 2 || c.Env[0].Name != "BERTH_SESSION" || c.Env[1].Value != "UTC" || len(c.EnvFrom) != 0 {
				t.Errorf("env %+v, want the spec's only", c.Env)
			}
			if q := c.Resources.Limits[corev1.ResourceMemory]; q.Value() != 1<<30 {
				t.Errorf("memory limit %v", q.String())
			}
			if q := c.Resources.Limits[corev1.ResourceCPU]; q.MilliValue() != 1000 {
				t.Errorf("cpu limit %v", q.String())
			}
			if q := c.Resources.Requests[corev1.ResourceMemory]; q.Value() != 1<<30/kube.RequestShare {
				t.Errorf("memory request %v", q.String())
			}
			if p.Labels[container.LabelGroup] != "main" || p.Annotations[container.LabelHome] != "/srv/berth" {
				t.Errorf("labels %v annotations %v", p.Labels, p.Annotations)
			}
			if errs := validation.IsValidLabelValue(p.Labels[container.LabelHome]); len(errs) > 0 {
				t.Errorf("home label %q: %v", p.Labels[container.LabelHome], errs)
			}
			tt.check(t, p)
		})
	}
}

func TestPodSpecRefuses(t *testing.T) {
	f := kubetest.NewFake(kubetest.Running)
	tests := []struct {
		name string
		cfg  kube.Config
		edit func(*container.Spec)
		want error
	}{
		{"root", kube.Config{}, func(s *container.Spec) { s.User = "0:0" }, kube.ErrRoot},
		{"outside home", kube.Config{}, func(s *container.Spec) {
			s.Mounts = append(s.Mounts, mounts.Mount{Source: "/etc", Target: "/x"})
		}, kube.ErrOutsideHome},
		{"outside home by ..", kube.Config{Claim: "c"}, func(s *container.Spec) {
			s.Mounts = append(s.Mounts, mounts.Mount{Source: "/srv/berth/../etc", Target: "/x"})
		}, kube.ErrOutsideHome},
		{"home's sibling", kube.Config{Claim: "c"}, func(s *container.Spec) {
			s.Mounts = append(s.Mounts, mounts.Mount{Source: "/srv/berth2/x", Target: "/x"})
		}, kube.ErrOutsideHome},
		// The whole home holds the store and every session's folders.
		{"home itself, by subPath", kube.Config{Claim: "c"}, func(s *container.Spec) {
			s.Mounts = append(s.Mounts, mounts.Mount{Source: "/srv/berth", Target: "/x"})
		}, kube.ErrOutsideHome},
		{"home itself, by hostPath", kube.Config{}, func(s *container.Spec) {
			s.Mounts = append(s.Mounts, mounts.Mount{Source: "/srv/berth/groups/..", Target: "/x"})
		}, kube.ErrOutsideHome},
		{"relative", kube.Config{}, func(s *container.Spec) {
			s.Mounts = append(s.Mounts, mounts.Mount{Source: "groups/main", Target: "/x"})
		}, kube.ErrOutsideHome},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSpec()
			tt.edit(&s)
			_, _, err := f.Runtime(t, tt.cfg).Ensure(context.Background(), s)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if n := len(f.Pods(t)); n != 0 {
		t.Fatalf("%d pods created", n)
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestPodName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"berth-main-0123456789ab", "berth-main-0123456789ab"},
		{"berth-My_Group-0123456789ab", "berth-my-group-0123456789ab-" + sha("berth-My_Group-0123456789ab")[:16]},
	}
	for _, tt := range tests {
		if got := kube.PodName(tt.in); got != tt.want {
			t.Errorf("kube.PodName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Names that differ only in what a Pod name cannot hold stay apart.
	a, b := kube.PodName("berth-A-1"), kube.PodName("berth-a-1")
	if a == b {
		t.Errorf("%q and %q share a pod name", "berth-A-1", "berth-a-1")
	}
	long := kube.PodName("berth-" + strings.Repeat("X", 80) + "-0123456789ab")
	for _, n := range []string{a, long} {
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
			t.Errorf("%q: %v", n, errs)
		}
	}
}

func TestEnsureAdoptsAndRacesToOnePod(t *testing.T) {
	f := kubetest.NewFake(kubetest.Running)
	// Two gateways' runtimes, and goroutines in each, race on one session.
	rts := []*kube.Runtime{f.Runtime(t, kube.Config{}), f.Runtime(t, kube.Config{})}
	var wg sync.WaitGroup
	var created, adopted atomic.Int32
	ids := make([]string, 20)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, ad, err := rts[i%2].Ensure(context.Background(), testSpec())
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = info.ID
			if ad {
				adopted.Add(1)
			} else {
				created.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := len(f.Pods(t)); n != 1 {
		t.Fatalf("%d pods, want 1", n)
	}
	if created.Load() != 1 || adopted.Load() != 19 {
		t.Fatalf("created %d, adopted %d; want 1 and 19", created.Load(), adopted.Load())
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("ids differ: %v", ids)
		}
	}
	list, err := rts[0].List(context.Background(), map[string]string{container.LabelHome: "/srv/berth"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || !list[0].Running() || list[0].Labels[container.LabelHome] != "/srv/berth" || list[0].ID != ids[0] {
		t.Fatalf("list = %+v", list)
	}
	other, err := rts[0].List(context.Background(), map[string]string{container.LabelHome: "/srv/other"})
	if err != nil || len(other) != 0 {
		t.Fatalf("another home's list = %+v, %v", other, err)
	}
}

func TestEnsureReplacesFinishedPod(t *testing.T) {
	f := kubetest.NewFake(kubetest.Running)
	r := f.Runtime(t, kube.Config{})
	first, _, err := r.Ensure(context.Background(), testSpec())
	if err != nil {
		t.Fatal(err)
	}
	f.SetStatus(t, first.Name, func(s *corev1.PodStatus) { s.Phase = corev1.PodSucceeded })
	second, adopted, err := r.Ensure(context.Background(), testSpec())
	if err != nil {
		t.Fatal(err)
	}
	if adopted || second.ID == first.ID || !second.Running() {
		t.Fatalf("second = %+v (adopted %v), first %s: want a new running pod", second, adopted, first.ID)
	}
	if n := len(f.Pods(t)); n != 1 {
		t.Fatalf("%d pods, want 1", n)
	}
}

func TestEnsureStartFailure(t *testing.T) {
	f := kubetest.NewFake(func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodPending
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "agent", State: corev1.ContainerState{
			Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: "image not present"}}}}
	})
	r := f.Runtime(t, kube.Config{})
	_, _, err := r.Ensure(context.Background(), testSpec())
	if !errors.Is(err, kube.ErrStart) || !strings.Contains(err.Error(), "ErrImageNeverPull") {
		t.Fatalf("err = %v, want kube.ErrStart naming the reason", err)
	}
	if n := len(f.Pods(t)); n != 0 {
		t.Fatalf("%d pods left, want the failed one deleted", n)
	}
}

func TestWaitSeesExitThroughWatch(t *testing.T) {
	tests := []struct {
		name string
		term corev1.ContainerStateTerminated
		want container.Exit
	}{
		{"exit code", corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error"}, container.Exit{Code: 3, Memory: 1 << 30}},
		{"oom", corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}, container.Exit{Code: 137, OOMKilled: true, Memory: 1 << 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kubetest.NewFake(kubetest.Running)
			r := f.Runtime(t, kube.Config{})
			info, _, err := r.Ensure(context.Background(), testSpec())
			if err != nil {
				t.Fatal(err)
			}
			f.DrainWatches()
			type res struct {
				exit container.Exit
				err  error
			}
			done := make(chan res, 1)
			go func() {
				e, err := r.Wait(context.Background(), info.ID)
				done <- res{e, err}
			}()
			<-f.Watches // Wait watches; nothing polls
			select {
			case got := <-done:
				t.Fatalf("Wait returned before the pod ended: %+v", got)
			default:
			}
			f.SetStatus(t, info.Name, func(s *corev1.PodStatus) {
				s.Phase = corev1.PodFailed
				s.ContainerStatuses = []corev1.ContainerStatus{{Name: "agent", State: corev1.ContainerState{Terminated: &tt.term}}}
			})
			got := <-done
			if got.err != nil || got.exit != tt.want {
				t.Fatalf("Wait = %+v, %v; want %+v", got.exit, got.err, tt.want)
			}
			if n := len(f.Pods(t)); n != 0 {
				t.Fatalf("%d pods after Wait, want it deleted", n)
			}
		})
	}
}

func TestWaitGoneAndReplaced(t *testing.T) {
	f := kubetest.NewFake(kubetest.Running)
	r := f.Runtime(t, kube.Config{})
	info, _, err := r.Ensure(context.Background(), testSpec())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(context.Background(), info.ID, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Pods(t)); n != 0 {
		t.Fatalf("%d pods after Stop", n)
	}
	if e, err := r.Wait(context.Background(), info.ID); err != nil || e.Code != -1 {
		t.Fatalf("Wait on a gone pod = %+v, %v; want code -1", e, err)
	}
	// A new Pod of the same name is not the one waited for.
	if _, _, err := r.Ensure(context.Background(), testSpec()); err != nil {
		t.Fatal(err)
	}
	if e, err := r.Wait(context.Background(), info.ID); err != nil || e.Code != -1 {
		t.Fatalf("Wait on a replaced pod = %+v, %v; want code -1", e, err)
	}
	if err := r.Remove(context.Background(), info.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Pods(t)); n != 1 {
		t.Fatalf("%d pods: removing the old id must leave the new pod", n)
	}
}

func TestDeleteGraceNeverZero(t *testing.T) {
	f := kubetest.NewFake(kubetest.Running)
	var graces []int64
	var mu sync.Mutex
	f.Clientset.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		opts := a.(k8stesting.DeleteActionImpl).DeleteOptions
		mu.Lock()
		graces = append(graces, *opts.GracePeriodSeconds)
		mu.Unlock()
		return false, nil, nil
	})
	r := f.Runtime(t, kube.Config{})
	for _, grace := range []time.Duration{0, 5 * time.Second} {
		info, _, err := r.Ensure(context.Background(), testSpec())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Stop(context.Background(), info.ID, grace); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(graces) != "[1 5]" {
		t.Fatalf("graces asked = %v, want [1 5]: 0 would free the name before the kubelet killed the agent", graces)
	}
}

func TestAccess(t *testing.T) {
	f := kubetest.NewFake(kubetest.Running)
	f.Clientset.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ssar := a.(k8stesting.CreateAction).GetObject().DeepCopyObject().(*authv1.SelfSubjectAccessReview)
		ra := ssar.Spec.ResourceAttributes
		ssar.Status.Allowed = !(ra.Verb == "delete" || ra.Subresource == "log") && ra.Namespace == "berth"
		if !ssar.Status.Allowed {
			ssar.Status.Reason = "no RBAC policy matched"
		}
		return true, ssar, nil
	})
	denied, err := f.Runtime(t, kube.Config{}).Access(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range denied {
		got = append(got, d.String())
	}
	if strings.Join(got, ",") != "delete pods,get pods/log" {
		t.Fatalf("denied = %v", got)
	}
}

func TestImageNodes(t *testing.T) {
	f := kubetest.NewFake(kubetest.Running)
	for _, n := range []corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Status: corev1.NodeStatus{Images: []corev1.ContainerImage{{Names: []string{"docker.io/library/berth-agent:latest", "sha256:1"}}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b"}},
	} {
		if _, err := f.Clientset.CoreV1().Nodes().Create(context.Background(), &n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r := f.Runtime(t, kube.Config{})
	tests := []struct {
		image string
		want  string
	}{
		{"berth-agent:latest", "a"},
		{"berth-agent", "a"},
		{"docker.io/library/berth-agent:latest", "a"},
		{"berth-agent:test", ""},
		{"example.com/berth-agent:latest", ""},
	}
	for _, tt := range tests {
		have, nodes, err := r.ImageNodes(context.Background(), tt.image)
		if err != nil || nodes != 2 || strings.Join(have, ",") != tt.want {
			t.Errorf("ImageNodes(%s) = %v, %d, %v; want %q of 2", tt.image, have, nodes, err, tt.want)
		}
	}
}

func TestInspectAndIsNotFound(t *testing.T) {
	f := kubetest.NewFake(kubetest.Running)
	r := f.Runtime(t, kube.Config{})
	_, err := r.Inspect(context.Background(), "nope")
	if !kube.IsNotFound(err) || !apierrors.IsNotFound(err) {
		t.Fatalf("err = %v, want not found", err)
	}
	info, _, err := r.Ensure(context.Background(), testSpec())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{info.ID, info.Name} {
		got, err := r.Inspect(context.Background(), id)
		if err != nil || got.ID != info.ID {
			t.Fatalf("Inspect(%s) = %+v, %v", id, got, err)
		}
	}
}

func TestEnsureUnschedulableTimesOut(t *testing.T) {
	f := kubetest.NewFake(func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodPending
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: "Unschedulable", Message: "0/2 nodes are available: 2 Insufficient memory."}}
	})
	r := f.Runtime(t, kube.Config{StartTimeout: 200 * time.Millisecond})
	_, _, err := r.Ensure(context.Background(), testSpec())
	if !errors.Is(err, kube.ErrStart) || !strings.Contains(err.Error(), "Insufficient memory") {
		t.Fatalf("err = %v, want ErrStart saying why it was not scheduled", err)
	}
	if n := len(f.Pods(t)); n != 0 {
		t.Fatalf("%d pods left, want the unschedulable one deleted", n)
	}
}

func TestWaitPodDeletedUnderIt(t *testing.T) {
	f := kubetest.NewFake(kubetest.Running)
	r := f.Runtime(t, kube.Config{})
	info, _, err := r.Ensure(context.Background(), testSpec())
	if err != nil {
		t.Fatal(err)
	}
	f.DrainWatches()
	done := make(chan container.Exit, 1)
	go func() {
		e, err := r.Wait(context.Background(), info.ID)
		if err != nil {
			t.Error(err)
		}
		done <- e
	}()
	<-f.Watches
	if err := f.Clientset.CoreV1().Pods("berth").Delete(context.Background(), info.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if e := <-done; e.Code != -1 {
		t.Fatalf("Wait = %+v, want code -1 for a pod deleted while it ran", e)
	}
}

// A Pod holding the session's name that is not this install's Pod for
// this session (a shared namespace) is neither adopted nor deleted,
// running or finished.
func TestEnsureLeavesForeignPod(t *testing.T) {
	for _, phase := range []corev1.PodPhase{corev1.PodRunning, corev1.PodSucceeded} {
		t.Run(string(phase), func(t *testing.T) {
			f := kubetest.NewFake(kubetest.Running)
			r := f.Runtime(t, kube.Config{})
			foreign := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: kube.PodName(testSpec().Name), Namespace: f.Namespace,
					Labels: map[string]string{"app": "someone-else"}},
				Status: corev1.PodStatus{Phase: phase},
			}
			if _, err := f.Clientset.CoreV1().Pods(f.Namespace).Create(context.Background(), foreign, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			f.SetStatus(t, foreign.Name, func(s *corev1.PodStatus) { s.Phase = phase })
			_, _, err := r.Ensure(context.Background(), testSpec())
			if !errors.Is(err, kube.ErrForeign) {
				t.Fatalf("Ensure over a foreign pod: %v, want ErrForeign", err)
			}
			pods := f.Pods(t)
			if len(pods) != 1 || pods[0].Labels["app"] != "someone-else" {
				t.Fatalf("pods after = %+v, want the foreign one untouched", pods)
			}
		})
	}
}
