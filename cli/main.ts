// The command line: `validate`, `render` and `crds`, with the program's own schemas and builders and no
// Pulumi engine. Usage: see `usage` below or README.md.
import * as fs from "node:fs";
import { dump, load } from "js-yaml";
import { Manifest } from "../builders/meta";
import { operatorManifests } from "../builders/operator";
import { maskSecrets, planManifests } from "../builders/plan";
import { parseStackConfig, StackConfig } from "../model/config";
import { crdManifests } from "../model/crd";
import { formatError } from "../model/specs";
import { loadSpecFiles } from "../sources/files";
import { resolveNamespaces } from "../sources/namespaces";

const usage = `usage:
  validate <files or folders>...                  check specs; one line per problem
  render [--config <stack config file>] [--show-secrets] <files or folders>...
                                                  print every object the program would create;
                                                  secret values print as (secret) unless --show-secrets
  render --operator <stack config file>           print the in-cluster companions of crdstack:operator
                                                  (a namespaceSelector is resolved with your kubeconfig)
  crds                                            print the CRDs`;

export interface CliResult { code: number; stdout: string; stderr: string }

/** Multi-document YAML, the way `kubectl apply -f` reads it. */
export function toYaml(manifests: readonly Manifest[]): string {
  return manifests.map((manifest) => dump(manifest, { noRefs: true, lineWidth: -1 })).join("---\n");
}

/** The `crdstack:*` settings of a stack config file such as Pulumi.dev.yaml. */
export function readConfigFile(file: string): StackConfig {
  const document = (load(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(document.config ?? {})) {
    if (key.startsWith("crdstack:")) raw[key.slice("crdstack:".length)] = value;
  }
  return parseStackConfig(raw);
}

/** The Stack, RBAC, watcher and its ConfigMap for the `crdstack:operator` of a stack config file. */
function renderOperator(file: string): CliResult {
  const config = readConfigFile(file);
  if (config.operator === undefined) return { code: 2, stdout: "", stderr: `render: ${file} sets no crdstack:operator\n` };
  return { code: 0, stdout: toYaml(operatorManifests(config.operator)), stderr: "" };
}

function takeFlag(args: string[], name: string): boolean {
  const index = args.indexOf(name);
  if (index >= 0) args.splice(index, 1);
  return index >= 0;
}

function takeOption(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  if (index < 0) return undefined;
  const [, value] = args.splice(index, 2);
  if (value === undefined) throw new Error(`${name} needs a value`);
  return value;
}

export function run(argv: readonly string[]): CliResult {
  const [command, ...rest] = argv;
  const args = [...rest];
  try {
    if (command === "crds") return { code: 0, stdout: toYaml(crdManifests()), stderr: "" };
    if (command !== "validate" && command !== "render") return { code: 2, stdout: "", stderr: `${usage}\n` };
    const operatorFile = command === "render" ? takeOption(args, "--operator") : undefined;
    if (operatorFile !== undefined) return renderOperator(operatorFile);
    const configFile = command === "render" ? takeOption(args, "--config") : undefined;
    const showSecrets = takeFlag(args, "--show-secrets");
    const config = configFile === undefined ? parseStackConfig({}) : readConfigFile(configFile);
    if (args.length === 0) return { code: 2, stdout: "", stderr: `${command}: name at least one file or folder\n${usage}\n` };
    const specs = loadSpecFiles(args);
    const problems = specs.errors.map((error) => `${formatError(error)}\n`).join("");
    if (specs.errors.length > 0) return { code: 1, stdout: "", stderr: problems };
    if (command === "validate") return { code: 0, stdout: `${specs.objects.length} objects valid\n`, stderr: "" };
    const manifests = planManifests(specs.objects, {
      installCrds: config.installCrds,
      createCustomResources: true,
      trackingServer: { defaultImage: config.defaultMlflowImage, ingressClassName: config.ingressClassName },
    });
    return { code: 0, stdout: toYaml(showSecrets ? manifests : maskSecrets(manifests)), stderr: "" };
  } catch (error) {
    return { code: 2, stdout: "", stderr: `${command}: ${(error as Error).message}\n` };
  }
}

/**
 * `run`, after what needs the cluster: the namespaces a `namespaceSelector` of `render --operator`
 * selects, listed with the caller's kubeconfig. (`run` alone renders a config that lists namespaces.)
 */
export async function runWithCluster(argv: readonly string[]): Promise<CliResult> {
  const [command, ...rest] = argv;
  const file = rest[rest.indexOf("--operator") + 1];
  if (command !== "render" || !rest.includes("--operator") || file === undefined) return run(argv);
  try {
    const config = readConfigFile(file);
    if (config.operator?.namespaceSelector === undefined) return run(argv);
    return { code: 0, stdout: toYaml(operatorManifests(await resolveNamespaces(config.operator))), stderr: "" };
  } catch (error) {
    return { code: 2, stdout: "", stderr: `${command}: ${(error as Error).message}\n` };
  }
}

if (require.main === module) {
  void runWithCluster(process.argv.slice(2)).then((result) => {
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    process.exitCode = result.code;
  });
}
