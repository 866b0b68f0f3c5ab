/**
 * Which environment variables the program keeps. The `agent` preset passes
 * an allow-list of names ({@link ENV_ALLOW}: locale, terminal, toolchain and
 * build settings, CA bundles) and drops, even under those names, values that
 * look like credentials; names the caller allows (`--allow-env`) are kept
 * whole. Names are matched by pattern; values by the shapes of well-known
 * tokens and of URLs with a password in them, so `DATABASE_URL` or a token
 * under a made-up name is caught too. Values are never copied anywhere: only
 * names leave this module.
 */

/** Name patterns (case-insensitive). `AUTH(?!OR)` keeps GIT_AUTHOR_* out. */
export const CREDENTIAL_NAME_PATTERNS: readonly RegExp[] = [
  /TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH(?!OR)|SESSION_?KEY/i,
  /^AWS_(?!(CA_BUNDLE|REGION|DEFAULT_REGION|PROFILE|CONFIG_FILE|SDK_LOAD_CONFIG|PAGER|DEFAULT_OUTPUT)$)/i,
  /(^|_)(KEY|PAT|DSN|COOKIE|WEBHOOK(_URL)?)$/i,
  /_(PASS|PWD|PIN)$/i,
  /^(KRB5CCNAME|GPG_AGENT_INFO|XAUTHORITY|SSHPASS|BW_SESSION|OP_SESSION_.*|OP_SERVICE_ACCOUNT_.*|VAULT_.*)$/i,
];

/** Value shapes: well-known token prefixes, and URLs carrying user:password@. */
export const CREDENTIAL_VALUE_PATTERNS: readonly RegExp[] = [
  /(^|[^A-Za-z0-9])(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}/,
  /(^|[^A-Za-z0-9])github_pat_[A-Za-z0-9_]{20,}/,
  /(^|[^A-Za-z0-9])(glpat|gldt|glrt|glptt|glsoat)-[A-Za-z0-9_-]{20,}/,
  /(^|[^A-Za-z0-9])npm_[A-Za-z0-9]{30,}/,
  /(^|[^A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}|(^|[^A-Za-z0-9])xapp-[0-9]-[A-Za-z0-9-]{10,}/,
  /(^|[^A-Za-z0-9])sk-[A-Za-z0-9_-]{20,}/,
  /(^|[^A-Z0-9])(AKIA|ASIA)[0-9A-Z]{16}($|[^A-Z0-9])/,
  // Stripe secret, restricted and webhook keys.
  /(^|[^A-Za-z0-9])(sk|rk)_(live|test)_[A-Za-z0-9]{10,}|(^|[^A-Za-z0-9])whsec_[A-Za-z0-9]{20,}/,
  // Google API keys, OAuth access tokens and client secrets.
  /(^|[^A-Za-z0-9])AIza[0-9A-Za-z_-]{30,}|(^|[^A-Za-z0-9])ya29\.[0-9A-Za-z_-]{20,}|GOCSPX-[0-9A-Za-z_-]{20,}/,
  // Azure storage and service bus connection strings, SAS signatures.
  /(AccountKey|SharedAccessKey|SharedAccessSignature)=[^;\s]{10,}|[?&]sig=[A-Za-z0-9%/+]{20,}/i,
  // A JWT: two base64url JSON parts and a signature.
  /(^|[^A-Za-z0-9])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/,
  // Hugging Face, PyPI, Docker Hub, DigitalOcean, SendGrid, age keys, PEM private keys.
  /(^|[^A-Za-z0-9])(hf_[A-Za-z0-9]{30,}|pypi-AgE[A-Za-z0-9_-]{20,}|dckr_pat_[A-Za-z0-9_-]{20,}|do[opr]_v1_[a-f0-9]{40,}|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,})|AGE-SECRET-KEY-1|-----BEGIN [A-Z ]*PRIVATE KEY/,
  // URLs carrying user:password@ anywhere, or a token in their query.
  /[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@/i,
  /[?&](access_token|token|api_?key|password|secret)=[^&\s]{8,}/i,
];

/**
 * Names the `agent` preset passes to the program (a trailing `*` is a
 * prefix): locale, terminal, editor, toolchain homes and build settings,
 * proxies and CA bundles. Everything else is removed, and so is a value
 * under one of these names that looks like a credential.
 */
export const ENV_ALLOW: readonly string[] = [
  'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'PWD', 'OLDPWD', 'SHLVL', 'HOSTNAME', 'TMPDIR', 'TZ',
  'LANG', 'LANGUAGE', 'LC_*',
  'TERM', 'COLORTERM', 'TERM_PROGRAM', 'TERM_PROGRAM_VERSION', 'COLUMNS', 'LINES', 'NO_COLOR', 'FORCE_COLOR', 'CLICOLOR', 'CLICOLOR_FORCE',
  'EDITOR', 'VISUAL', 'PAGER', 'MANPAGER', 'LESS', 'CI', 'DEBIAN_FRONTEND',
  'XDG_CONFIG_HOME', 'XDG_CACHE_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME', 'XDG_RUNTIME_DIR', 'XDG_CONFIG_DIRS', 'XDG_DATA_DIRS',
  'SSL_CERT_FILE', 'SSL_CERT_DIR', 'NODE_EXTRA_CA_CERTS', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'AWS_CA_BUNDLE', 'GIT_SSL_CAINFO', 'PIP_CERT', 'CARGO_HTTP_CAINFO',
  'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'all_proxy',
  'GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL', 'GIT_EDITOR', 'GIT_PAGER',
  'NVM_DIR', 'NVM_BIN', 'NVM_INC', 'NVM_CD_FLAGS', 'VOLTA_HOME', 'FNM_*', 'NODENV_ROOT', 'ASDF_DIR', 'ASDF_DATA_DIR', 'MISE_DATA_DIR', 'MISE_CONFIG_DIR', 'MISE_SHELL',
  'PYENV_ROOT', 'PYENV_SHELL', 'PYENV_VERSION', 'RBENV_ROOT', 'RBENV_SHELL', 'RBENV_VERSION', 'GOENV_ROOT', 'SDKMAN_DIR', 'SDKMAN_CANDIDATES_DIR', 'SDKMAN_PLATFORM',
  'JAVA_HOME', 'GRADLE_HOME', 'GRADLE_USER_HOME', 'MAVEN_HOME', 'M2_HOME', 'MAVEN_OPTS', 'ANDROID_HOME', 'ANDROID_SDK_ROOT',
  'RUSTUP_*', 'CARGO_*', 'RUSTFLAGS', 'RUSTDOCFLAGS', 'RUST_BACKTRACE', 'RUST_LOG',
  'GOPATH', 'GOROOT', 'GOBIN', 'GOFLAGS', 'GOPROXY', 'GOPRIVATE', 'GONOSUMDB', 'GONOPROXY', 'GOSUMDB', 'GOTOOLCHAIN', 'GO111MODULE', 'CGO_ENABLED', 'GOCACHE', 'GOMODCACHE', 'GOOS', 'GOARCH',
  'NODE_ENV', 'NODE_OPTIONS', 'NODE_PATH', 'NODE_NO_WARNINGS', 'PNPM_HOME', 'BUN_INSTALL', 'DENO_DIR', 'DENO_INSTALL', 'COREPACK_HOME', 'YARN_CACHE_FOLDER', 'npm_config_*', 'NPM_CONFIG_*',
  'PYTHON*', 'VIRTUAL_ENV', 'CONDA_PREFIX', 'CONDA_DEFAULT_ENV', 'CONDA_EXE',
  'PIPX_HOME', 'PIPX_BIN_DIR', 'UV_*', 'POETRY_*', 'PIP_*',
  'GEM_HOME', 'GEM_PATH', 'BUNDLE_PATH', 'BUNDLE_GEMFILE',
  'CC', 'CXX', 'CPP', 'LD', 'AR', 'CFLAGS', 'CXXFLAGS', 'CPPFLAGS', 'LDFLAGS', 'PKG_CONFIG_PATH', 'LD_LIBRARY_PATH', 'LIBRARY_PATH', 'CPATH', 'C_INCLUDE_PATH', 'CPLUS_INCLUDE_PATH',
  'MAKEFLAGS', 'CMAKE_GENERATOR', 'CMAKE_BUILD_PARALLEL_LEVEL', 'CCACHE_DIR', 'SCCACHE_DIR',
  'DOTNET_ROOT', 'DOTNET_CLI_TELEMETRY_OPTOUT', 'PLAYWRIGHT_BROWSERS_PATH', 'PUPPETEER_CACHE_DIR',
];

/** Names of CA bundle settings, whatever the tool (`AWS_CA_BUNDLE`, `NIX_SSL_CERT_FILE`, `HTTPLIB2_CA_CERTS`…): kept. */
export const CA_BUNDLE_NAME = /(^|_)(CA_?BUNDLE|CA_?CERTS?(_FILE|_PATH|_DIR)?|CACERTS?|CAINFO|CAPATH|CA_?FILE|CA_?PATH|SSL_CERT_(FILE|DIR)|SSL_ROOTS_FILE_PATH|EXTRA_CA_CERTS)$/;

/** True when `name` is matched by one of `patterns` (exact, or a prefix ending in `*`). */
export function nameMatches(name: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
}

/**
 * The names the program does not get, sorted: those not on the allow-list
 * (`ENV_ALLOW` plus `allow`), and those on {@link ENV_ALLOW} whose name or
 * value looks like a credential. Names in `allow` are always kept.
 */
export function disallowedNames(env: Readonly<Record<string, string | undefined>>, allow: readonly string[] = []): string[] {
  return Object.keys(env)
    .filter((name) => !nameMatches(name, allow) && (!(nameMatches(name, ENV_ALLOW) || CA_BUNDLE_NAME.test(name)) || looksLikeCredential(name, env[name])))
    .sort();
}

/** True when the variable looks like a credential, by name or by value. */
export function looksLikeCredential(name: string, value: string | undefined): boolean {
  if (CREDENTIAL_NAME_PATTERNS.some((re) => re.test(name))) return true;
  return value !== undefined && CREDENTIAL_VALUE_PATTERNS.some((re) => re.test(value));
}

/** Names in `env` that look like credentials and are not in `allow`, sorted. */
export function credentialNames(env: Readonly<Record<string, string | undefined>>, allow: readonly string[] = []): string[] {
  return Object.keys(env)
    .filter((name) => !nameMatches(name, allow) && looksLikeCredential(name, env[name]))
    .sort();
}
