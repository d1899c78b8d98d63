//go:build tools

// The Node.js language host. Its own module (sdk/nodejs/cmd/pulumi-language-nodejs/v3) is not served
// by the module proxy this project builds from; v3.68.0 is the last release that shipped it inside
// github.com/pulumi/pulumi/sdk/v3. See README, "The toolchain".
package tools

import _ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
