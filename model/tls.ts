// The TLS fields of a TrackingServer: PEM framing (which the generated CRD checks too), then the contents
// parsed with node:crypto, since the API server does not look inside a TLS Secret and an Ingress
// controller would fail on it later. Messages never quote key material.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { z } from "zod";

/** PEM blocks of one of `kinds` (e.g. CERTIFICATE), checked for framing and base64 body: one, or with `several` one or more. */
function pem(kinds: readonly string[], what: string, several = false) {
  // Whitespace spelled out: JS's `\s` takes more than RE2's, which checks the pattern in the CRD.
  const space = "[\\t\\n\\f\\r ]";
  const block = `-----BEGIN (${kinds.join("|")})-----${space}+[A-Za-z0-9+/=\\t\\n\\f\\r ]+-----END (${kinds.join("|")})-----${space}*`;
  const pattern = new RegExp(`^${space}*(${block})${several ? "+" : ""}$`);
  return z.string().regex(pattern, { abort: true, error: () => `is not a PEM-encoded ${what}` });
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** PEM certificates, the server's first and the chain to its issuer after it: each must parse as X.509. */
export const certificateChain = pem(["CERTIFICATE"], "certificate", true).superRefine((text, ctx) => {
  const blocks = text.match(CERTIFICATE_BLOCK) ?? [];
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch {
      ctx.addIssue({ code: "custom", message: `certificate ${i + 1} of ${blocks.length} is not a valid X.509 certificate` });
    }
  });
});

/** A PEM private key (PKCS#8, or RSA or EC in their own forms) that parses, unencrypted. Messages never quote it. */
export const privateKey = pem(["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"], "private key").superRefine((text, ctx) => {
  try {
    createPrivateKey(text);
  } catch {
    ctx.addIssue({ code: "custom", message: "is not a valid private key: its PEM body does not parse" });
  }
});

/**
 * Why `key` is not the private key of the first certificate of `chain` (the one an Ingress presents), or
 * undefined when it is, or when either does not parse (their own fields say so).
 */
export function keyMismatch(chain: string, key: string): string | undefined {
  try {
    const certificate = new X509Certificate(chain);
    if (certificate.checkPrivateKey(createPrivateKey(key))) return undefined;
    return `does not match the certificate (the first in \`cert\`, subject ${certificate.subject.replace(/\n/g, ", ")}): set the key it was issued for`;
  } catch {
    return undefined;
  }
}
