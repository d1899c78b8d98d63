//go:build tools

// The Pulumi CLI. pkg/v3 replaces modules with local paths, so it is built from this module, which
// repeats its one non-local replace (see go.mod).
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
