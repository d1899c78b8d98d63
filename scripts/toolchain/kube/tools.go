//go:build tools

// Kubernetes' control plane and kubectl. k8s.io/kubernetes replaces its staging modules with local
// paths; go.mod replaces each with its published v0.<minor>.<patch>.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
