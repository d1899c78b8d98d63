//go:build tools

// The Kubernetes provider. toolchain.sh copies the module into ./provider-src and generates the two
// files its main package embeds (schema-embed.json, terraform-mapping-embed.json) before building.
package tools

import _ "github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes"
