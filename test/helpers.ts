// Small helpers shared by the tests: objects from YAML text, and the corpus of bad specs.
import * as fs from "node:fs";
import * as path from "node:path";
import { load, loadAll } from "js-yaml";
import { CustomObject, EasyServiceObject, parseObject, TrackingServerObject } from "../model/objects";

/** The documents of a multi-document YAML text. */
export function documentsOf(yaml: string): any[] {
  return loadAll(yaml) as any[];
}

export const ROOT = path.resolve(__dirname, "..");
export const EXAMPLES = path.join(ROOT, "examples");
export const BAD_CORPUS = path.join(__dirname, "corpus", "bad");

/** Parses a valid object from YAML, failing the test with its problems otherwise. */
export function objectFrom(yaml: string): CustomObject {
  const parsed = parseObject(load(yaml));
  if (!parsed.ok) throw new Error(parsed.problems.map((p) => `${p.path}: ${p.message}`).join("\n"));
  return parsed.object;
}

export function trackingServer(spec: Record<string, unknown>, name = "mlflow", namespace = "team-a"): TrackingServerObject {
  const parsed = parseObject({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name, namespace }, spec });
  if (!parsed.ok || parsed.object.kind !== "TrackingServer") throw new Error(JSON.stringify(parsed));
  return parsed.object;
}

export function easyService(spec: Record<string, unknown>, name = "web", namespace = "team-a"): EasyServiceObject {
  const parsed = parseObject({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name, namespace }, spec });
  if (!parsed.ok || parsed.object.kind !== "EasyService") throw new Error(JSON.stringify(parsed));
  return parsed.object;
}

export interface BadCase {
  file: string;
  /** The `<field path>: <message>` part of the line validate must print. */
  error: string;
  /** Whether a Kubernetes API server with the generated CRDs rejects the object too. */
  apiserver: "rejected" | "accepted";
}

/** Each file of the corpus states, in its header, the error it must produce and what the API server does. */
export function badCases(): BadCase[] {
  return fs.readdirSync(BAD_CORPUS).sort().map((name) => {
    const file = path.join(BAD_CORPUS, name);
    const text = fs.readFileSync(file, "utf8");
    const error = /^# error: (.*)$/m.exec(text)?.[1];
    const apiserver = /^# apiserver: (rejected|accepted)$/m.exec(text)?.[1] as BadCase["apiserver"] | undefined;
    if (error === undefined || apiserver === undefined) throw new Error(`${file}: header lacks "# error:" or "# apiserver:"`);
    return { file, error, apiserver };
  });
}

/** A self-signed certificate (EC P-256, CN=mlflow.example.com, valid until 2126) and its key, as the TLS fields take them. */
export const PEM = {
  cert: "-----BEGIN CERTIFICATE-----\nMIIBkTCCATegAwIBAgIUaRYlaXx/0AHyGwR1nWx65qg4Q8UwCgYIKoZIzj0EAwIw\nHTEbMBkGA1UEAwwSbWxmbG93LmV4YW1wbGUuY29tMCAXDTI2MTEyMzIzNDUwN1oY\nDzIxMjYxMDMwMjM0NTA3WjAdMRswGQYDVQQDDBJtbGZsb3cuZXhhbXBsZS5jb20w\nWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATsOIzQhR40W5dLbfEQzc/MT43Ueojd\nmZjjnOlIy12+vkdQSC8ybtPPbiATlg+2SzjeGfx/rtDciaML+L3DE8Wso1MwUTAd\nBgNVHQ4EFgQUaPQBD6SeK3BUM/maunt5s69ZEFkwHwYDVR0jBBgwFoAUaPQBD6Se\nK3BUM/maunt5s69ZEFkwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF\nAiAeuWVqnD1Z6T5rLdps5WyiGYBg5xOkdtjVCh0ZtQwdIAIhAOA8vR8Kbq4l69QS\nIbhxTKVr8XJfhLzuYtQIh+s6HSVc\n-----END CERTIFICATE-----\n",
  key: "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgKR8DHE5xtscGJ/RP\nZ41biBE//2f9aQ1itwSNOq3IkYqhRANCAATsOIzQhR40W5dLbfEQzc/MT43Ueojd\nmZjjnOlIy12+vkdQSC8ybtPPbiATlg+2SzjeGfx/rtDciaML+L3DE8Ws\n-----END PRIVATE KEY-----\n",
};
