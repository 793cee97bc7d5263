# Shared by .ci/kube/{build,up,down,import,smoke}: sourced, never run.
# The one place for the pinned versions and the cache layout.

# Kubernetes components built from the k8s.io/kubernetes Go module; the
# staging modules (client-go, apimachinery, ...) follow as v0.<minor>.<patch>.
KUBE_VERSION=v1.37.2
KUBE_STAGING_VERSION=v0.${KUBE_VERSION#v1.}
# Debian bookworm packages fetched (apt-get download, dpkg -x; nothing is
# installed): the store, the container runtime and the CNI plugins.
KUBE_DEBS="etcd-server containerd runc containernetworking-plugins"

KUBE_CACHE=${BERTH_KUBE_CACHE:-$HOME/.cache/berth-kube}
KUBE_BIN=$KUBE_CACHE/$KUBE_VERSION/bin         # kube-apiserver, kube-controller-manager, kube-scheduler, kubelet
KUBE_SRC=$KUBE_CACHE/$KUBE_VERSION/src         # the wrapper module the binaries are built from
KUBE_DEB_ROOT=$KUBE_CACHE/debs/root            # dpkg -x of $KUBE_DEBS
KUBE_COMPONENTS="kube-apiserver kube-controller-manager kube-scheduler kubelet"

ETCD=$KUBE_DEB_ROOT/usr/bin/etcd
CONTAINERD=$KUBE_DEB_ROOT/usr/bin/containerd
CONTAINERD_SHIM=$KUBE_DEB_ROOT/usr/bin/containerd-shim-runc-v2
CTR=$KUBE_DEB_ROOT/usr/bin/ctr
RUNC=$KUBE_DEB_ROOT/usr/sbin/runc
CNI_BIN=$KUBE_DEB_ROOT/usr/lib/cni
# Built by .ci/kube/build from .ci/kube's own module: the `cluster` program
# (wait, drain, smoke through the API server) and the pause image.
KUBE_TOOLS=$KUBE_CACHE/tools
PAUSE_IMAGE=berth.local/pause:1   # containerd's sandbox_image

# The kubelet sets these (and the CNI bridge may set ip_forward); up raises
# fs.inotify.max_user_instances (each kubelet takes 6, an API server 3, and
# berth's tests one per watched session folder: Debian's 128 runs out). up
# saves them all, down restores them.
KUBE_SYSCTLS="fs.inotify.max_user_instances vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes kernel.keys.maxkeys kernel.keys.maxbytes net.ipv4.ip_forward net.ipv6.conf.all.forwarding"

# Fixed paths the kubelet and the CRI create outside their root dirs:
# /var/log/containers (links to the Pod logs), /run/netns (the sandboxes'
# network namespaces), /var/lib/cni (libcni's result cache) and
# /var/lib/kubelet (the device-plugin socket and checkpoint: a constant in
# the kubelet, shared by both kubelets of a two-node cluster).
KUBE_HOST_DIRS="/var/log/containers /run/netns /var/lib/cni /var/lib/kubelet"

# node_name N, node_addr N: node 1 is `localhost` on 127.0.0.1; node 2 is
# berth-kube-2-ID on 127.0.0.2 (ID names the cluster's folder, so clusters
# of two folders may run at once), a name up adds to /etc/hosts.
node_name() { if [ "$1" = 1 ]; then echo localhost; else echo "berth-kube-$1-$id"; fi; }
node_addr() { echo "127.0.0.$1"; }

# other_clusters DIR: the folders of the other clusters of these scripts
# running now (found by their kubelets' --config), one a line. The host
# state saved before the first of them is the one to restore after the
# last: up takes it from them, and down leaves it to them.
other_clusters() {
  local p exe cfg d
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    [ "${exe##*/}" = kubelet ] || continue
    cfg=$(tr '\0' '\n' <"$p/cmdline" 2>/dev/null | sed -n 's|^--config=\(.*\)/node[0-9]*/kubelet\.yaml$|\1|p')
    for d in $cfg; do [ "$d" != "$1" ] && [ -f "$d/host/id" ] && echo "$d"; done
  done | sort -u
}
# hosts_mark DIR: the comment that ends the /etc/hosts lines up adds for DIR.
hosts_mark() { echo "# berth-kube $1"; }

log() { printf '%s kube: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# timed NAME CMD...: runs CMD and prints how long it took.
timed() {
  local name=$1 start end rc=0; shift
  start=$(date +%s.%N)
  "$@" || rc=$?
  end=$(date +%s.%N)
  awk -v n="$name" -v s="$start" -v e="$end" -v t="$(date -u +%H:%M:%S)" 'BEGIN { printf "%s kube: %s took %.1fs\n", t, n, e - s }' >&2
  return $rc
}

# agent_test_image: the agent image tag berth's tests build from this
# checkout (session/gateway/gatewaytest.testImageTag: "berth-agent:test-"
# and the first 4 bytes of sha256 of the source tree's path).
agent_test_image() {
  local src
  src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  echo "berth-agent:test-$(printf %s "$src" | sha256sum | cut -c1-8)"
}
