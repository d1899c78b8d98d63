// crdstack: TrackingServer and EasyService custom resources → their Kubernetes objects.
// config → specs → components → outputs; see README.md.
import * as pulumi from "@pulumi/pulumi";
import { declarePlatform } from "./components/platform";
import { readStackConfig } from "./components/stackConfig";
import { StackConfig } from "./model/config";
import { formatError, loadSpecFiles, Specs } from "./model/specs";

async function readSpecs(config: StackConfig): Promise<Specs> {
  if (config.source === "files") return loadSpecFiles([config.specs]);
  throw new Error("crdstack:source: \"cluster\" is not available in this version; use \"files\"");
}

export = async () => {
  const config = readStackConfig();
  const specs = await readSpecs(config);

  // An invalid object is left out and reported. Reporting an error fails the update after the valid
  // objects are applied, and a failed update deletes nothing, so its children stay as they were.
  for (const error of specs.errors) pulumi.log.error(formatError(error));

  const platform = declarePlatform(specs.objects, {
    installCrds: config.installCrds,
    createCustomResources: config.source === "files",
    trackingServer: { defaultImage: config.defaultMlflowImage, ingressClassName: config.ingressClassName },
  });

  return {
    /** Each TrackingServer's URL, by `<namespace>/<name>`. */
    trackingServers: Object.fromEntries(Object.entries(platform.trackingServers).map(([name, server]) => [name, server.url])),
    /** Each EasyService's Deployment name, by `<namespace>/<name>`. */
    easyServices: Object.fromEntries(Object.entries(platform.easyServices).map(([name, service]) => [name, service.deployment.metadata.name])),
    /** Problems found in the specs, one line each. */
    problems: specs.errors.map(formatError),
  };
};
