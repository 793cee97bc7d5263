package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"

	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Permission is one thing berth asks of the API server.
type Permission struct {
	Verb, Resource, Subresource string
}

// String is the permission as a Role's rule says it: "get pods/log".
func (p Permission) String() string {
	if p.Subresource != "" {
		return p.Verb + " " + p.Resource + "/" + p.Subresource
	}
	return p.Verb + " " + p.Resource
}

// Needs is what the gateway's service account must be allowed in its
// namespace: what docs/kubernetes/rbac.yaml's Role grants.
var Needs = []Permission{
	{Verb: "create", Resource: "pods"},
	{Verb: "get", Resource: "pods"},
	{Verb: "list", Resource: "pods"},
	{Verb: "watch", Resource: "pods"},
	{Verb: "delete", Resource: "pods"},
	{Verb: "get", Resource: "pods", Subresource: "log"},
}

// Denied is a permission the API server refused, and why.
type Denied struct {
	Permission
	Reason string
}

// Access asks the API server (SelfSubjectAccessReview) whether berth's
// credentials may do each of Needs in its namespace, and returns the ones
// refused.
func (r *Runtime) Access(ctx context.Context) ([]Denied, error) {
	var out []Denied
	for _, p := range Needs {
		rev := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authv1.ResourceAttributes{Namespace: r.ns, Verb: p.Verb, Resource: p.Resource, Subresource: p.Subresource},
		}}
		res, err := r.cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, rev, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("access review %s: %w", p, err)
		}
		if !res.Status.Allowed {
			out = append(out, Denied{Permission: p, Reason: res.Status.Reason})
		}
	}
	return out, nil
}

// ImageNodes lists the nodes whose kubelet reports image among the images
// it holds (node.status.images), and how many nodes there are. Listing
// nodes needs a cluster-wide grant (docs/kubernetes/rbac.yaml's optional
// ClusterRole); without it the error is the API server's Forbidden.
func (r *Runtime) ImageNodes(ctx context.Context, image string) (have []string, nodes int, err error) {
	list, err := r.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("list nodes: %w", err)
	}
	want := normalImage(image)
	for _, n := range list.Items {
		for _, img := range n.Status.Images {
			if slices.ContainsFunc(img.Names, func(s string) bool { return normalImage(s) == want }) {
				have = append(have, n.Name)
				break
			}
		}
	}
	return have, len(list.Items), nil
}

// normalImage is an image reference as a kubelet reports it: a name
// without a registry is docker.io/library/'s, a name without a tag is
// :latest's.
func normalImage(ref string) string {
	name, digest, hasDigest := strings.Cut(ref, "@")
	if i := strings.LastIndex(name, "/"); !strings.Contains(name[i+1:], ":") && !hasDigest {
		name += ":latest"
	}
	first, _, hasSlash := strings.Cut(name, "/")
	switch {
	case !hasSlash:
		name = "docker.io/library/" + name
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		name = "docker.io/" + name
	}
	if hasDigest {
		return name + "@" + digest
	}
	return name
}
