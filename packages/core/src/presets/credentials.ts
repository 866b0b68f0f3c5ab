/**
 * Which environment variables look like credentials. The `agent` preset
 * removes them from the program's environment unless the caller allows them
 * by name. Names are matched by pattern; values by the shapes of well-known
 * tokens and of URLs with a password in them, so `DATABASE_URL` or a token
 * under a made-up name is caught too. Values are never copied anywhere: only
 * names leave this module.
 */

/** Name patterns (case-insensitive). `AUTH(?!OR)` keeps GIT_AUTHOR_* out. */
export const CREDENTIAL_NAME_PATTERNS: readonly RegExp[] = [
  /TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH(?!OR)/i,
  /^AWS_/i,
  /(^|_)(KEY|PAT|DSN|COOKIE|WEBHOOK(_URL)?)$/i,
  /^(KRB5CCNAME|GPG_AGENT_INFO|XAUTHORITY)$/,
];

/** Value shapes: well-known token prefixes, and URLs carrying user:password@. */
export const CREDENTIAL_VALUE_PATTERNS: readonly RegExp[] = [
  /^(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}/,
  /^github_pat_[A-Za-z0-9_]{20,}/,
  /^glpat-[A-Za-z0-9_-]{20,}/,
  /^npm_[A-Za-z0-9]{30,}/,
  /^xox[abpors]-[A-Za-z0-9-]{10,}/,
  /^sk-[A-Za-z0-9_-]{20,}/,
  /^(AKIA|ASIA)[0-9A-Z]{16}$/,
  /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@/i,
];

/** True when the variable looks like a credential, by name or by value. */
export function looksLikeCredential(name: string, value: string | undefined): boolean {
  if (CREDENTIAL_NAME_PATTERNS.some((re) => re.test(name))) return true;
  return value !== undefined && CREDENTIAL_VALUE_PATTERNS.some((re) => re.test(value));
}

/** Names in `env` that look like credentials and are not in `allow`, sorted. */
export function credentialNames(env: Readonly<Record<string, string | undefined>>, allow: readonly string[] = []): string[] {
  const allowed = new Set(allow);
  return Object.keys(env)
    .filter((name) => !allowed.has(name) && looksLikeCredential(name, env[name]))
    .sort();
}
