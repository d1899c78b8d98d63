// The binaries the real-engine tests run, from `scripts/toolchain.sh` (an override variable, the cache,
// or a build from the Go module proxy): found once per process.
import { execFileSync } from "node:child_process";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");

export interface Toolchain {
  /** The folder with `pulumi` and `pulumi-language-nodejs`. */
  pulumiBin: string;
  /** A Pulumi home of its own, whose plugin cache holds the Kubernetes provider. */
  pulumiHome: string;
  /** The folder with kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd and kwok. */
  kubeBin: string;
}

let toolchain: Toolchain | undefined;

/** Parses the `export NAME=value` lines the script prints. */
export function parseExports(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    // The values are shell-quoted (`printf %q`): undo the backslash escapes.
    if (match) values[match[1]] = match[2].replace(/\\(.)/g, "$1");
  }
  return values;
}

/**
 * Runs one of the scripts that provide tools (`scripts/<name>`) and returns the variables it exports;
 * `missing` is the error when it fails, saying what to do.
 */
export function scriptExports(name: string, missing: string): Record<string, string> {
  try {
    return parseExports(execFileSync("bash", [path.join(ROOT, "scripts", name)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }));
  } catch {
    throw new Error(missing);
  }
}

export function useToolchain(): Toolchain {
  if (toolchain !== undefined) return toolchain;
  const values = scriptExports(
    "toolchain.sh",
    "The real-engine toolchain is missing and could not be built: run `bash scripts/toolchain.sh` and read its last lines " +
      "(it builds Pulumi, its Kubernetes provider, Kubernetes, etcd and kwok with Go), or point CRDSTACK_PULUMI_BIN, " +
      "CRDSTACK_KUBERNETES_PROVIDER and CRDSTACK_KUBE_BIN at existing installs (see README, \"The toolchain\").",
  );
  toolchain = { pulumiBin: values.CRDSTACK_PULUMI_BIN, pulumiHome: values.PULUMI_HOME, kubeBin: values.CRDSTACK_KUBE_BIN };
  return toolchain;
}
