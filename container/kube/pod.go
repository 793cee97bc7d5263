package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/berth-dev/berth/container"
)

// DefaultTmpSize caps a Pod's /tmp when Config names no size: 64 MiB, as
// the Docker runtime's tmpfs.
const DefaultTmpSize = 64 << 20

// RequestShare is how much of its limits a Pod requests: a quarter. An
// agent mostly waits on its model's API, so placing each by all it may
// use would leave a node three quarters idle; the limits still hold each
// one to its group's memory and CPU.
const RequestShare = 4

// agentContainer is the name of the one container of an agent Pod.
const agentContainer = "agent"

// homeVolume is the volume of the claim, in the PVC shape.
const homeVolume = "berth-home"

// hostnameLabel is the node label a Pod is pinned and spread by.
const hostnameLabel = "kubernetes.io/hostname"

// ErrOutsideHome refuses a mount whose source is not inside BERTH_HOME:
// the Pods see only the home's volume (or, on one node, folders under it),
// and never all of it (the store, every session's folders).
var ErrOutsideHome = errors.New("mount source outside BERTH_HOME")

// ErrRoot refuses a spec whose user is root: agent Pods run as a non-root uid.
var ErrRoot = errors.New("agent pods must run as a non-root user")

// PodName is the Pod a container name becomes: the name itself when it is
// a valid DNS label (berth's are, for group folders in lower case), else
// the name lowered, with anything else turned to '-', and a hash of the
// whole name, so that two names never share a Pod. Deterministic: the
// name is what makes the API server refuse a second Pod of a session.
func PodName(name string) string {
	if len(validation.IsDNS1123Label(name)) == 0 {
		return name
	}
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 46 {
		s = strings.TrimRight(s[:46], "-")
	}
	return strings.TrimLeft(s+"-"+hash(name)[:16], "-")
}

// labelValue is v as a label's value: itself when valid, else "h-" and a
// hash of it (BERTH_HOME is a path, which no label value may be). The
// value itself is kept in an annotation of the same key.
func labelValue(v string) string {
	if len(validation.IsValidLabelValue(v)) == 0 {
		return v
	}
	return "h-" + hash(v)[:40]
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// ID is how the runtime names a Pod to the session manager: its UID and
// its name, so that a Pod deleted and recreated under the same name is
// never taken for the one before.
func ID(name, uid string) string { return uid + "@" + name }

// splitID is the name and UID of an ID; a bare name has no UID.
func splitID(id string) (name, uid string) {
	if u, n, ok := strings.Cut(id, "@"); ok {
		return n, u
	}
	return id, ""
}

// podInfo is what the session manager is told of a Pod.
func podInfo(p *corev1.Pod) container.Info {
	info := container.Info{ID: ID(p.Name, string(p.UID)), Name: p.Name, Created: p.CreationTimestamp.Time, Labels: map[string]string{}}
	for k, v := range p.Labels {
		info.Labels[k] = v
	}
	for _, k := range []string{container.LabelSession, container.LabelGroup, container.LabelHome} {
		if v, ok := p.Annotations[k]; ok {
			info.Labels[k] = v
		}
	}
	switch _, done := finished(p); {
	case p.DeletionTimestamp != nil:
		info.State = "removing"
	case done:
		info.State = "exited"
	case p.Status.Phase == corev1.PodRunning:
		info.State = "running"
	default:
		info.State = "created"
	}
	return info
}

// Node is the node a Pod runs on ("" before it is scheduled).
func Node(p *corev1.Pod) string { return p.Spec.NodeName }

var envName = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)

// podFor is the Pod a spec describes. Everything a Docker container gets
// that Kubernetes can say is said: no privilege, no capabilities, a
// read-only root, a non-root user, the default seccomp profile, no service
// account token, no service links, no restart, limits, a bounded /tmp, and
// only the spec's environment.
func (r *Runtime) podFor(spec container.Spec) (*corev1.Pod, error) {
	uid, gid, err := parseUser(spec.User)
	if err != nil {
		return nil, err
	}
	name := PodName(spec.Name)
	lbl := map[string]string{}
	ann := map[string]string{"berth.container-name": spec.Name}
	for k, v := range spec.Labels {
		if len(validation.IsQualifiedName(k)) != 0 {
			return nil, fmt.Errorf("pod %s: label key %q is not a valid Kubernetes label key", name, k)
		}
		lbl[k], ann[k] = labelValue(v), v
	}
	var env []corev1.EnvVar
	for _, kv := range spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		if !envName.MatchString(k) {
			return nil, fmt.Errorf("pod %s: environment variable name %q", name, k)
		}
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	volumes, vmounts, err := r.volumes(spec)
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", name, err)
	}
	tmp := resource.NewQuantity(r.cfg.TmpSize, resource.BinarySI)
	volumes = append(volumes, corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{
		EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: tmp}}})
	vmounts = append(vmounts, corev1.VolumeMount{Name: "tmp", MountPath: "/tmp"})

	limits, requests := corev1.ResourceList{}, corev1.ResourceList{}
	if spec.Memory > 0 {
		limits[corev1.ResourceMemory] = *resource.NewQuantity(spec.Memory, resource.BinarySI)
		requests[corev1.ResourceMemory] = *resource.NewQuantity(max(spec.Memory/RequestShare, 1), resource.BinarySI)
	}
	if spec.NanoCPUs > 0 {
		milli := max(spec.NanoCPUs/1e6, 1)
		limits[corev1.ResourceCPU] = *resource.NewMilliQuantity(milli, resource.DecimalSI)
		requests[corev1.ResourceCPU] = *resource.NewMilliQuantity(max(milli/RequestShare, 1), resource.DecimalSI)
	}
	f, t := false, true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.ns, Labels: lbl, Annotations: ann},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &f,
			EnableServiceLinks:           &f,
			// The sandbox's pause process is PID 1 and reaps what the
			// agent leaves, as the Docker runtime's init does.
			ShareProcessNamespace: &t,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   &t,
				RunAsUser:      &uid,
				RunAsGroup:     &gid,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:            agentContainer,
				Image:           spec.Image,
				ImagePullPolicy: r.cfg.PullPolicy,
				Args:            spec.Cmd, // the image's entrypoint is the runner
				Env:             env,
				WorkingDir:      "/workspace",
				VolumeMounts:    vmounts,
				Resources:       corev1.ResourceRequirements{Limits: limits, Requests: requests},
				SecurityContext: &corev1.SecurityContext{
					RunAsNonRoot:             &t,
					RunAsUser:                &uid,
					RunAsGroup:               &gid,
					Privileged:               &f,
					AllowPrivilegeEscalation: &f,
					ReadOnlyRootFilesystem:   &t,
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
			}},
			Volumes: volumes,
			// Sessions spread over the nodes (a preference, never a refusal).
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
				MaxSkew: 1, TopologyKey: hostnameLabel, WhenUnsatisfiable: corev1.ScheduleAnyway,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{container.LabelHome: lbl[container.LabelHome]}},
			}},
		},
	}
	if lbl[container.LabelHome] == "" {
		pod.Spec.TopologySpreadConstraints = nil
	}
	if r.cfg.Node != "" {
		pod.Spec.NodeSelector = map[string]string{hostnameLabel: r.cfg.Node}
	}
	return pod, nil
}

// parseUser reads "uid:gid" (or "uid"), refusing root.
func parseUser(user string) (uid, gid int64, err error) {
	u, g, hasGroup := strings.Cut(user, ":")
	if uid, err = strconv.ParseInt(u, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("agent user %q: not a numeric uid", user)
	}
	gid = uid
	if hasGroup {
		if gid, err = strconv.ParseInt(g, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("agent user %q: not a numeric gid", user)
		}
	}
	if uid <= 0 || gid < 0 {
		return 0, 0, fmt.Errorf("%w (user %q)", ErrRoot, user)
	}
	return uid, gid, nil
}

// volumes are the Pod's volumes and the agent's mounts of them, from the
// spec's mounts: in the hostPath shape one hostPath volume per mount; in
// the PVC shape one volume, the claim, mounted by subPath (relative to
// BERTH_HOME) at each target. Either way a source outside BERTH_HOME, or
// BERTH_HOME itself, is refused. Which host folders are mounted is mounts.Plan's decision (none
// inside a folder an agent writes); see docs/security.md for what the
// kubelet adds to it.
func (r *Runtime) volumes(spec container.Spec) ([]corev1.Volume, []corev1.VolumeMount, error) {
	home := filepath.Clean(r.cfg.Home)
	var vols []corev1.Volume
	var vms []corev1.VolumeMount
	if r.cfg.Claim != "" {
		vols = append(vols, corev1.Volume{Name: homeVolume, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: r.cfg.Claim}}})
	}
	for i, m := range spec.Mounts {
		if !filepath.IsAbs(m.Source) {
			return nil, nil, fmt.Errorf("mount %s: %w: %q is not absolute", m.Target, ErrOutsideHome, m.Source)
		}
		// Strictly inside: the home itself (rel ".") holds the store, the
		// console token's hash and every session's folders; no plan
		// mounts it, and no Pod may.
		rel, err := filepath.Rel(home, filepath.Clean(m.Source))
		if err != nil || !filepath.IsLocal(rel) || rel == "." {
			return nil, nil, fmt.Errorf("mount %s: %w: %s is not inside %s", m.Target, ErrOutsideHome, m.Source, home)
		}
		if r.cfg.Claim != "" {
			vms = append(vms, corev1.VolumeMount{Name: homeVolume, MountPath: m.Target, ReadOnly: m.ReadOnly, SubPath: filepath.ToSlash(rel)})
			continue
		}
		vname := "m" + strconv.Itoa(i)
		vols = append(vols, corev1.Volume{Name: vname, VolumeSource: corev1.VolumeSource{
			HostPath: &corev1.HostPathVolumeSource{Path: filepath.Join(home, rel)}}})
		vms = append(vms, corev1.VolumeMount{Name: vname, MountPath: m.Target, ReadOnly: m.ReadOnly})
	}
	return vols, vms, nil
}
