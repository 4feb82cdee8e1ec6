//! Typed settings read once from the environment (and `.env` in development).
//!
//! A missing or malformed variable is reported as one line naming it. Checks that only matter
//! for one integration (say, the mail provider) live with that integration, so a function that
//! does not send mail does not need mail settings.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::auth::keys::{self, PrivateKey, PublicKey};
pub use crate::functions::Kind;

/// The development key pair of access tokens (refused in production).
pub const DEV_JWT_PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIE3mtZNj39r2aLQ5Wd28/vQ87GWY71/aHt1ZUVRk7mby
-----END PRIVATE KEY-----
";
pub const DEV_JWT_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAna1XNgBBOORGqe9OurWdGbrqPTy9HEqUKMt9c0Coo74=
-----END PUBLIC KEY-----
";
pub const DEV_JWT_REFRESH_SECRET: &str = "dev-refresh-secret-change-me-0123456789abcdef";
pub const DEV_CURSOR_SECRET: &str = "dev-cursor-secret-change-me-0123456789abcdef";

/// A bad variable: `NAME: what is wrong`. Never contains the value itself (it may be a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub var: String,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: {}: {}", self.var, self.problem)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    pub fn new(var: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            var: var.into(),
            problem: problem.into(),
        }
    }
}

/// A string that never shows up in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Test,
    Production,
}

impl FromStr for AppEnv {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "development" | "dev" | "local" => Ok(Self::Development),
            "test" => Ok(Self::Test),
            "production" | "prod" => Ok(Self::Production),
            _ => Err("expected development, test or production".into()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line in Cloud Logging's structured shape.
    Json,
    /// Human-readable lines for a terminal.
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "pretty" | "text" => Ok(Self::Pretty),
            _ => Err("expected json or pretty".into()),
        }
    }
}

/// A rate limit in the seed's syntax: `5/15minute`, `30/hour`, `100/15minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSpec {
    pub limit: u64,
    pub window: Duration,
}

impl RateSpec {
    pub const fn per_minutes(limit: u64, minutes: u64) -> Self {
        Self {
            limit,
            window: Duration::from_secs(minutes * 60),
        }
    }

    /// `n` times the limit over the same window (a ceiling over many users or addresses).
    pub const fn times(self, n: u64) -> Self {
        Self {
            limit: self.limit.saturating_mul(n),
            window: self.window,
        }
    }
}

impl FromStr for RateSpec {
    type Err = String;

    /// `N/[M]unit` with unit second, minute, hour or day (plural allowed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("expected N/[M]unit such as 5/15minute or 30/hour, got {s:?}");
        let (limit, period) = s.trim().split_once('/').ok_or_else(bad)?;
        let limit: u64 = limit.trim().parse().map_err(|_| bad())?;
        let period = period.trim();
        let digits = period.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (count, unit) = period.split_at(digits);
        let count: u64 = if count.is_empty() {
            1
        } else {
            count.parse().map_err(|_| bad())?
        };
        let unit_secs = match unit.trim().trim_end_matches('s') {
            "second" | "sec" => 1,
            "minute" | "min" => 60,
            "hour" => 3600,
            "day" => 86_400,
            _ => return Err(bad()),
        };
        if limit == 0 || count == 0 {
            return Err(bad());
        }
        Ok(Self {
            limit,
            window: Duration::from_secs(count * unit_secs),
        })
    }
}

impl fmt::Display for RateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}second", self.limit, self.window.as_secs())
    }
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: Secret,
    pub pool_size: u32,
    pub max_overflow: u32,
    pub acquire_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// Signs access tokens (`JWT_PRIVATE_KEY`, Ed25519 PKCS#8 PEM): only where tokens are
    /// made (the `signing` feature: auth and users).
    pub private_key: Option<PrivateKey>,
    /// Verify access tokens (`JWT_PUBLIC_KEYS`, SPKI PEM): the signing key's and, during a
    /// rotation, the other one.
    pub public_keys: Vec<PublicKey>,
    /// Signs and verifies refresh tokens (HMAC-SHA256): only where tokens are made.
    pub refresh_secret: Option<Secret>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct RateLimits {
    pub login: RateSpec,
    pub general: RateSpec,
    /// Every other `RATE_LIMIT_<NAME>` variable, parsed at start (a malformed one stops the
    /// function, named): the limits functions declare for their own routes.
    declared: HashMap<String, RateSpec>,
}

impl RateLimits {
    /// The limit set by the variable `var`, or `default`.
    pub fn declared(&self, var: &str, default: RateSpec) -> RateSpec {
        self.declared.get(var).copied().unwrap_or(default)
    }
}

#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    pub api_key: Option<Secret>,
    pub model: String,
    pub max_tokens: u32,
    pub base_url: String,
    /// Deadline of a whole reply, and of each piece of a streamed one.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `sendgrid` or `outbox`; `None` = `sendgrid` when an API key is set, else `outbox`.
    pub provider: Option<String>,
    pub sendgrid_api_key: Option<Secret>,
    pub sendgrid_base_url: String,
    pub from_email: String,
    pub outbox_dir: String,
}

#[derive(Debug, Clone)]
pub struct PubSubSettings {
    /// `pubsub` or `in-process`; `None` = `pubsub` when a project (or emulator) is set.
    pub provider: Option<String>,
    pub project_id: Option<String>,
    pub emulator_host: Option<String>,
    pub topic_email_send: String,
    /// Cloud Scheduler publishes here daily; the purge worker listens.
    pub topic_notification_purge: String,
    /// The files function (and account deletion) asks the image worker here.
    pub topic_image_resize: String,
}

/// One social-login provider: an OAuth 2.0 client (OIDC for Google).
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub client_id: String,
    pub client_secret: Secret,
    pub authorize_url: String,
    pub token_url: String,
    /// Kakao: the user info endpoint; Google: the JWKS of its ID tokens.
    pub keys_or_userinfo_url: String,
    /// Google: the ID tokens' issuer.
    pub issuer: String,
}

#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// Where providers send people back: `{OAUTH_REDIRECT_BASE}/google/callback` (the auth
    /// function's public URL).
    pub redirect_base: String,
    /// `None` when `GOOGLE_CLIENT_ID` is unset (sign-in with Google is off).
    pub google: Option<ProviderSettings>,
    /// `None` when `KAKAO_CLIENT_ID` is unset.
    pub kakao: Option<ProviderSettings>,
}

#[derive(Debug, Clone)]
pub struct StorageSettings {
    /// The Cloud Storage bucket (`STORAGE_BUCKET`); without it, files go to `dir`.
    pub bucket: Option<String>,
    /// `http://host:port` of an emulator (fake-gcs-server), reached without credentials.
    pub emulator_host: Option<String>,
    /// Development: the directory that stands in for the bucket.
    pub dir: String,
    /// What one person's files may take in all (`STORAGE_QUOTA_MB`, 100 MiB).
    pub quota_bytes: i64,
}

#[derive(Debug, Clone)]
pub struct PushAuthSettings {
    /// Verify the OIDC token of push requests (required in production).
    pub verify: bool,
    /// Expected `aud` of push tokens (the worker's URL, or what the subscription sets).
    pub audience: Option<String>,
    /// Expected `email` of the push service account.
    pub service_account: Option<String>,
    pub jwks_url: String,
    pub issuers: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub env: AppEnv,
    pub host: String,
    pub port: u16,
    pub log_format: LogFormat,
    pub log_level: String,
    pub database: DatabaseSettings,
    pub redis_url: Option<Secret>,
    /// PEM certificates of the authorities that sign Redis's server certificate (Memorystore's
    /// own CA with transit encryption); without it a `rediss://` URL trusts the system's.
    pub redis_ca_cert: Option<String>,
    pub cache_ttl: Duration,
    pub jwt: JwtSettings,
    /// Keys the HMAC of list cursors (`CURSOR_SECRET_KEY`).
    pub cursor_secret: Secret,
    /// Keys of the data sealed at rest (`DATA_ENCRYPTION_KEYS`, `id:base64` pairs, the
    /// sealing key first): read by `sealing::Keyring`.
    pub data_encryption_keys: Option<Secret>,
    /// The migrate job: `{"<function>": "<password>"}` of the functions' database roles
    /// (`FUNCTION_DATABASE_PASSWORDS`), which it lets log in.
    pub function_database_passwords: Option<Secret>,
    pub rate_limits: RateLimits,
    pub openai: OpenAiSettings,
    pub mail: MailSettings,
    pub pubsub: PubSubSettings,
    pub storage: StorageSettings,
    pub oauth: OAuthSettings,
    /// Where the files function is reached from outside (`FILES_URL`): the base of the
    /// signed links to files handed to clients.
    pub files_url: String,
    pub push: PushAuthSettings,
    pub sentry_dsn: Option<Secret>,
    pub cors_origins: Vec<String>,
    pub frontend_url: String,
    pub trusted_proxy_hops: usize,
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
}

/// The variables as read, with typed accessors that name the variable on failure.
struct Vars(HashMap<String, String>);

impl Vars {
    fn raw(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or(default).to_owned()
    }

    fn opt_string(&self, name: &str) -> Option<String> {
        self.raw(name).map(str::to_owned)
    }

    fn parse<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|e| ConfigError::new(name, format!("{e}"))),
        }
    }

    fn positive<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Default,
        T::Err: fmt::Display,
    {
        let value = self.parse(name, default)?;
        if value <= T::default() {
            return Err(ConfigError::new(name, "must be greater than 0"));
        }
        Ok(value)
    }

    fn boolean(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(_) => Err(ConfigError::new(name, "expected true or false")),
        }
    }

    fn url(&self, name: &str, default: &str) -> Result<String, ConfigError> {
        let value = self.string(name, default);
        check_url(name, &value)?;
        Ok(value.trim_end_matches('/').to_owned())
    }
}

fn check_url(name: &str, value: &str) -> Result<(), ConfigError> {
    if value.starts_with("http://") || value.starts_with("https://") {
        Ok(())
    } else {
        Err(ConfigError::new(
            name,
            "expected an http:// or https:// URL",
        ))
    }
}

impl Settings {
    /// Reads `.env` (development convenience; real environment variables win), then the
    /// environment.
    pub fn from_env(kind: Kind) -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_vars(kind, std::env::vars())
    }

    /// Like [`Settings::from_env`], but prints the one-line error and exits on failure.
    pub fn from_env_or_exit(kind: Kind) -> Self {
        Self::from_env(kind).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(78) // EX_CONFIG
        })
    }

    /// The settings of a function of `kind`: only services sign and verify tokens, so only
    /// they need the JWT keys in production (elsewhere the keys are random: nothing they
    /// could sign is accepted anywhere).
    pub fn from_vars<I, K, V>(kind: Kind, vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let v = Vars(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        let env: AppEnv = v.parse("APP_ENV", AppEnv::Development)?;
        let production = env == AppEnv::Production;

        let database_url = v
            .opt_string("DATABASE_URL")
            .ok_or_else(|| ConfigError::new("DATABASE_URL", "is required"))?;
        if !database_url.starts_with("postgres://") && !database_url.starts_with("postgresql://") {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "expected a postgres:// or postgresql:// URL",
            ));
        }

        let needs_keys = production && kind == Kind::Service;
        let private_key = match v.raw("JWT_PRIVATE_KEY") {
            Some(pem) => Some(keys::private_key(pem).map_err(key_error("JWT_PRIVATE_KEY"))?),
            None if production => None,
            None => {
                Some(keys::private_key(DEV_JWT_PRIVATE_KEY).map_err(key_error("JWT_PRIVATE_KEY"))?)
            }
        };
        let jwt = JwtSettings {
            public_keys: match v.raw("JWT_PUBLIC_KEYS") {
                Some(pem) => keys::public_keys(pem).map_err(key_error("JWT_PUBLIC_KEYS"))?,
                None if needs_keys => {
                    return Err(ConfigError::new(
                        "JWT_PUBLIC_KEYS",
                        "is required in production",
                    ));
                }
                None if production => Vec::new(),
                // Development: the private key's own half.
                None => private_key.iter().map(|k| k.public.clone()).collect(),
            },
            private_key,
            refresh_secret: match v.raw("JWT_REFRESH_SECRET_KEY") {
                None if production => None,
                _ => Some(secret_key(
                    &v,
                    "JWT_REFRESH_SECRET_KEY",
                    DEV_JWT_REFRESH_SECRET,
                    production,
                    false,
                )?),
            },
            issuer: v.string("JWT_ISSUER", "mindpause-api"),
            audience: v.string("JWT_AUDIENCE", "mindpause-app"),
            access_ttl: Duration::from_secs(60 * v.positive("ACCESS_TOKEN_EXPIRE_MINUTES", 60)?),
            refresh_ttl: Duration::from_secs(86_400 * v.positive("REFRESH_TOKEN_EXPIRE_DAYS", 30)?),
        };
        let cursor_secret = secret_key(
            &v,
            "CURSOR_SECRET_KEY",
            DEV_CURSOR_SECRET,
            production,
            needs_keys,
        )?;

        let cors_origins = v
            .string("CORS_ORIGINS", "http://localhost:5173")
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect::<Vec<_>>();
        for origin in &cors_origins {
            if origin == "*" {
                return Err(ConfigError::new(
                    "CORS_ORIGINS",
                    "list exact origins; * is not allowed",
                ));
            }
            check_url("CORS_ORIGINS", origin)?;
        }

        let pubsub_emulator = v.opt_string("PUBSUB_EMULATOR_HOST");
        let settings = Settings {
            env,
            host: v.string("HOST", "0.0.0.0"),
            port: v.parse("PORT", 8080)?,
            log_format: v.parse(
                "LOG_FORMAT",
                if production {
                    LogFormat::Json
                } else {
                    LogFormat::Pretty
                },
            )?,
            log_level: v.string("LOG_LEVEL", "info"),
            database: DatabaseSettings {
                url: Secret::new(database_url),
                pool_size: v.positive("DATABASE_POOL_SIZE", 5)?,
                max_overflow: v.parse("DATABASE_MAX_OVERFLOW", 5)?,
                acquire_timeout: Duration::from_millis(
                    v.positive("DATABASE_ACQUIRE_TIMEOUT_MS", 3000)?,
                ),
            },
            redis_url: v.opt_string("REDIS_URL").map(Secret::new),
            redis_ca_cert: v.opt_string("REDIS_CA_CERT"),
            cache_ttl: Duration::from_secs(v.positive("REDIS_CACHE_TTL", 3600)?),
            jwt,
            cursor_secret,
            data_encryption_keys: v.opt_string("DATA_ENCRYPTION_KEYS").map(Secret::new),
            function_database_passwords: v
                .opt_string("FUNCTION_DATABASE_PASSWORDS")
                .map(Secret::new),
            rate_limits: RateLimits {
                login: v.parse("RATE_LIMIT_LOGIN", RateSpec::per_minutes(5, 15))?,
                general: v.parse("RATE_LIMIT_GENERAL", RateSpec::per_minutes(100, 15))?,
                declared: v
                    .0
                    .keys()
                    .filter(|k| k.starts_with("RATE_LIMIT_"))
                    .map(|k| Ok((k.clone(), v.parse(k, RateSpec::per_minutes(1, 1))?)))
                    .collect::<Result<_, ConfigError>>()?,
            },
            openai: OpenAiSettings {
                api_key: v
                    .opt_string("OPENAI_API_KEY")
                    .filter(|k| k != "sk-...")
                    .map(Secret::new),
                model: v.string("OPENAI_MODEL", "gpt-4o-mini"),
                max_tokens: v.positive("OPENAI_MAX_TOKENS", 500)?,
                base_url: v.url("OPENAI_BASE_URL", "https://api.openai.com/v1")?,
                timeout: Duration::from_secs(v.positive("OPENAI_TIMEOUT_SECS", 30)?),
            },
            mail: MailSettings {
                provider: one_of(&v, "MAIL_PROVIDER", &["sendgrid", "outbox"])?,
                sendgrid_api_key: v
                    .opt_string("SENDGRID_API_KEY")
                    .filter(|k| k != "...")
                    .map(Secret::new),
                sendgrid_base_url: v.url("SENDGRID_BASE_URL", "https://api.sendgrid.com")?,
                from_email: v.string("SENDGRID_FROM_EMAIL", "noreply@mindpause.com"),
                outbox_dir: v.string("EMAIL_OUTBOX_DIR", ".data/outbox"),
            },
            pubsub: PubSubSettings {
                provider: one_of(&v, "EVENTS_PROVIDER", &["pubsub", "in-process"])?,
                project_id: v
                    .opt_string("PUBSUB_PROJECT_ID")
                    .or_else(|| v.opt_string("GOOGLE_CLOUD_PROJECT")),
                emulator_host: pubsub_emulator,
                topic_email_send: v.string("PUBSUB_TOPIC_EMAIL_SEND", "email-send"),
                topic_notification_purge: v
                    .string("PUBSUB_TOPIC_NOTIFICATION_PURGE", "notification-purge"),
                topic_image_resize: v.string("PUBSUB_TOPIC_IMAGE_RESIZE", "image-resize"),
            },
            storage: StorageSettings {
                bucket: v.opt_string("STORAGE_BUCKET"),
                emulator_host: match v.opt_string("STORAGE_EMULATOR_HOST") {
                    Some(host) => {
                        check_url("STORAGE_EMULATOR_HOST", &host)?;
                        Some(host.trim_end_matches('/').to_owned())
                    }
                    None => None,
                },
                dir: v.string("STORAGE_DIR", ".data/files"),
                quota_bytes: v
                    .positive("STORAGE_QUOTA_MB", 100i64)?
                    .checked_mul(1024 * 1024)
                    .ok_or_else(|| ConfigError::new("STORAGE_QUOTA_MB", "too large"))?,
            },
            files_url: v.url("FILES_URL", "http://localhost:8000/api/v1/files")?,
            oauth: OAuthSettings {
                redirect_base: v.url("OAUTH_REDIRECT_BASE", "http://localhost:8000/api/v1/auth")?,
                google: provider(
                    &v,
                    "GOOGLE",
                    [
                        "https://accounts.google.com/o/oauth2/v2/auth",
                        "https://oauth2.googleapis.com/token",
                        "https://www.googleapis.com/oauth2/v3/certs",
                    ],
                    "https://accounts.google.com",
                )?,
                kakao: provider(
                    &v,
                    "KAKAO",
                    [
                        "https://kauth.kakao.com/oauth/authorize",
                        "https://kauth.kakao.com/oauth/token",
                        "https://kapi.kakao.com/v2/user/me",
                    ],
                    "https://kauth.kakao.com",
                )?,
            },
            push: PushAuthSettings {
                verify: v.boolean("PUSH_AUTH_VERIFY", production)?,
                audience: v.opt_string("PUSH_AUDIENCE"),
                service_account: v.opt_string("PUSH_SERVICE_ACCOUNT_EMAIL"),
                jwks_url: v.url(
                    "GOOGLE_JWKS_URL",
                    "https://www.googleapis.com/oauth2/v3/certs",
                )?,
                issuers: vec![
                    "https://accounts.google.com".into(),
                    "accounts.google.com".into(),
                ],
            },
            sentry_dsn: v
                .opt_string("SENTRY_DSN")
                .filter(|d| d != "https://...")
                .map(Secret::new),
            cors_origins,
            frontend_url: v.url("FRONTEND_URL", "http://localhost:5173")?,
            trusted_proxy_hops: v.parse("TRUSTED_PROXY_HOPS", 0)?,
            request_timeout: Duration::from_secs(v.positive("REQUEST_TIMEOUT_SECS", 30)?),
            body_limit_bytes: v.positive("BODY_LIMIT_BYTES", 1024 * 1024)?,
        };
        settings.refuse_development_defaults(kind)?;
        Ok(settings)
    }

    /// What a function that makes tokens (the `signing` feature) needs: the private key,
    /// whose public half is among `JWT_PUBLIC_KEYS`, and the refresh secret.
    pub fn require_signing_keys(&self) -> Result<(), ConfigError> {
        let private = self
            .jwt
            .private_key
            .as_ref()
            .ok_or_else(|| ConfigError::new("JWT_PRIVATE_KEY", "is required to sign tokens"))?;
        if !self.jwt.public_keys.contains(&private.public) {
            return Err(ConfigError::new(
                "JWT_PUBLIC_KEYS",
                "must include the public half of JWT_PRIVATE_KEY",
            ));
        }
        if self.jwt.refresh_secret.is_none() {
            return Err(ConfigError::new(
                "JWT_REFRESH_SECRET_KEY",
                "is required to sign tokens",
            ));
        }
        Ok(())
    }

    /// Production fails closed: no development default, no plain-HTTP peer, and what keeps
    /// limits and revocation across instances (Redis) or authenticates pushes is required.
    fn refuse_development_defaults(&self, kind: Kind) -> Result<(), ConfigError> {
        if self.env != AppEnv::Production {
            return Ok(());
        }
        let dev = keys::private_key(DEV_JWT_PRIVATE_KEY).map_err(key_error("JWT_PRIVATE_KEY"))?;
        if self
            .jwt
            .private_key
            .as_ref()
            .is_some_and(|k| k.public == dev.public)
        {
            return Err(ConfigError::new(
                "JWT_PRIVATE_KEY",
                "is the development key; set a real key in production",
            ));
        }
        if self.jwt.public_keys.contains(&dev.public) {
            return Err(ConfigError::new(
                "JWT_PUBLIC_KEYS",
                "holds the development key; set real keys in production",
            ));
        }
        if kind == Kind::Service {
            let Some(url) = &self.redis_url else {
                return Err(ConfigError::new(
                    "REDIS_URL",
                    "is required in production (limits and revocation hold across instances)",
                ));
            };
            if !url.expose().starts_with("rediss://") {
                return Err(ConfigError::new(
                    "REDIS_URL",
                    "must be rediss:// in production (sessions' gates travel encrypted)",
                ));
            }
            if !self.files_url.starts_with("https://") {
                return Err(ConfigError::new(
                    "FILES_URL",
                    "must be an https:// URL in production",
                ));
            }
        }
        if self.storage.emulator_host.is_some() {
            return Err(ConfigError::new(
                "STORAGE_EMULATOR_HOST",
                "the storage emulator is for development and tests only",
            ));
        }
        if kind == Kind::Worker {
            let push = [
                ("PUSH_AUDIENCE", &self.push.audience),
                ("PUSH_SERVICE_ACCOUNT_EMAIL", &self.push.service_account),
            ];
            if let Some((var, _)) = push.iter().find(|(_, value)| value.is_none()) {
                return Err(ConfigError::new(*var, "is required in production"));
            }
        }
        let mut peers = vec![
            ("GOOGLE_JWKS_URL".to_owned(), &self.push.jwks_url),
            ("OPENAI_BASE_URL".to_owned(), &self.openai.base_url),
            ("SENDGRID_BASE_URL".to_owned(), &self.mail.sendgrid_base_url),
        ];
        for (name, provider) in [("GOOGLE", &self.oauth.google), ("KAKAO", &self.oauth.kakao)] {
            if let Some(p) = provider {
                let third = if name == "GOOGLE" {
                    "KEYS_URL"
                } else {
                    "USERINFO_URL"
                };
                peers.push((format!("{name}_AUTHORIZE_URL"), &p.authorize_url));
                peers.push((format!("{name}_TOKEN_URL"), &p.token_url));
                peers.push((format!("{name}_{third}"), &p.keys_or_userinfo_url));
                peers.push(("OAUTH_REDIRECT_BASE".to_owned(), &self.oauth.redirect_base));
            }
        }
        if let Some((var, _)) = peers.iter().find(|(_, url)| !url.starts_with("https://")) {
            return Err(ConfigError::new(
                var.clone(),
                "must be an https:// URL in production",
            ));
        }
        if !self.push.verify {
            return Err(ConfigError::new(
                "PUSH_AUTH_VERIFY",
                "cannot be off in production",
            ));
        }
        if self.pubsub.provider.as_deref() == Some("in-process") {
            return Err(ConfigError::new(
                "EVENTS_PROVIDER",
                "in-process delivery is for development only",
            ));
        }
        Ok(())
    }

    pub fn is_production(&self) -> bool {
        self.env == AppEnv::Production
    }

    /// The AI provider to use: OpenAI when a key is set; the offline companion otherwise,
    /// which production refuses.
    pub fn require_openai_key(&self) -> Result<Option<&Secret>, ConfigError> {
        match (&self.openai.api_key, self.is_production()) {
            (None, true) => Err(ConfigError::new(
                "OPENAI_API_KEY",
                "is required in production (the offline companion is for development)",
            )),
            (key, _) => Ok(key.as_ref()),
        }
    }
}

/// What a deployed function of `kind` must be given in production (everything else has a
/// production-safe default), by the features of `shared` it links. `infra/` sets each of
/// these and hands no function a secret it does not need; a test checks both.
pub fn required_in_production(kind: Kind, features: &[String]) -> Vec<&'static str> {
    let mut vars = vec!["APP_ENV", "DATABASE_URL", "LOG_FORMAT"];
    vars.extend(match kind {
        Kind::Service => &[
            "REDIS_URL",
            "REDIS_CA_CERT",
            "JWT_PUBLIC_KEYS",
            "CURSOR_SECRET_KEY",
            "CORS_ORIGINS",
            "FRONTEND_URL",
            "FILES_URL",
            "TRUSTED_PROXY_HOPS",
        ][..],
        Kind::Worker => &[
            "PUSH_AUTH_VERIFY",
            "PUSH_AUDIENCE",
            "PUSH_SERVICE_ACCOUNT_EMAIL",
        ][..],
        Kind::Job => &["FUNCTION_DATABASE_PASSWORDS"][..],
    });
    for feature in features {
        vars.extend(match feature.as_str() {
            "pubsub" => &["PUBSUB_PROJECT_ID"][..],
            "signing" => &["JWT_PRIVATE_KEY", "JWT_REFRESH_SECRET_KEY"][..],
            "mail" => &[
                "MAIL_PROVIDER",
                "SENDGRID_API_KEY",
                "SENDGRID_FROM_EMAIL",
                "FRONTEND_URL",
            ][..],
            "sentry" => &["SENTRY_DSN"][..],
            "ai" => &["OPENAI_API_KEY", "OPENAI_MODEL"][..],
            "storage" => &["STORAGE_BUCKET"][..],
            "sealing" => &["DATA_ENCRYPTION_KEYS"][..],
            "oidc" => &[
                "GOOGLE_CLIENT_ID",
                "GOOGLE_CLIENT_SECRET",
                "KAKAO_CLIENT_ID",
                "KAKAO_CLIENT_SECRET",
                "OAUTH_REDIRECT_BASE",
            ][..],
            _ => &[][..],
        });
    }
    vars
}

fn key_error(var: &'static str) -> impl Fn(String) -> ConfigError {
    move |problem| ConfigError::new(var, problem)
}

fn secret_key(
    v: &Vars,
    name: &str,
    dev_default: &str,
    production: bool,
    required: bool,
) -> Result<Secret, ConfigError> {
    match v.opt_string(name) {
        None if required => Err(ConfigError::new(name, "is required in production")),
        None if production => Ok(Secret::new(random_key())),
        None => Ok(Secret::new(dev_default)),
        Some(value) if production && (value == dev_default || value.contains("change-this")) => {
            Err(ConfigError::new(
                name,
                "is a development default; set a real secret in production",
            ))
        }
        Some(value) if value.len() < 32 => Err(ConfigError::new(
            name,
            "must be at least 32 characters (256 bits)",
        )),
        Some(value) => Ok(Secret::new(value)),
    }
}

/// 256 random bits, hex-encoded: a key that nothing outside this process knows.
fn random_key() -> String {
    use rand::RngCore;
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// `<NAME>_CLIENT_ID`, `_CLIENT_SECRET`, `_AUTHORIZE_URL`, `_TOKEN_URL`, `_KEYS_URL` (Google)
/// or `_USERINFO_URL` (Kakao), `_ISSUER`; `None` without a client id.
fn provider(
    v: &Vars,
    name: &str,
    [authorize, token, keys_or_userinfo]: [&str; 3],
    issuer: &str,
) -> Result<Option<ProviderSettings>, ConfigError> {
    let var = |suffix: &str| format!("{name}_{suffix}");
    let Some(client_id) = v.opt_string(&var("CLIENT_ID")) else {
        return Ok(None);
    };
    let client_secret = v
        .opt_string(&var("CLIENT_SECRET"))
        .ok_or_else(|| ConfigError::new(var("CLIENT_SECRET"), "is required with the client id"))?;
    let third = if name == "GOOGLE" {
        "KEYS_URL"
    } else {
        "USERINFO_URL"
    };
    Ok(Some(ProviderSettings {
        client_id,
        client_secret: Secret::new(client_secret),
        authorize_url: v.url(&var("AUTHORIZE_URL"), authorize)?,
        token_url: v.url(&var("TOKEN_URL"), token)?,
        keys_or_userinfo_url: v.url(&var(third), keys_or_userinfo)?,
        issuer: v.string(&var("ISSUER"), issuer),
    }))
}

fn one_of(v: &Vars, name: &str, allowed: &[&str]) -> Result<Option<String>, ConfigError> {
    match v.opt_string(name) {
        None => Ok(None),
        Some(value) if allowed.contains(&value.as_str()) => Ok(Some(value)),
        Some(_) => Err(ConfigError::new(
            name,
            format!("expected one of: {}", allowed.join(", ")),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![("DATABASE_URL", "postgres://u@localhost/db")]
    }

    fn with(extra: &[(&'static str, &'static str)]) -> Result<Settings, ConfigError> {
        let mut vars = base();
        vars.extend_from_slice(extra);
        Settings::from_vars(Kind::Service, vars)
    }

    #[test]
    fn defaults_are_the_development_ones() {
        let s = with(&[]).unwrap();
        assert_eq!(s.env, AppEnv::Development);
        assert_eq!(s.port, 8080);
        assert_eq!(s.jwt.public_keys, [s.jwt.private_key.unwrap().public]);
        assert_eq!(s.cursor_secret.expose(), DEV_CURSOR_SECRET);
        assert_eq!(s.rate_limits.login, RateSpec::per_minutes(5, 15));
        assert_eq!(s.trusted_proxy_hops, 0);
        assert!(!s.push.verify);
    }

    #[test]
    fn a_missing_database_url_is_named() {
        let err = Settings::from_vars(Kind::Service, Vec::<(String, String)>::new()).unwrap_err();
        assert_eq!(err.var, "DATABASE_URL");
        assert_eq!(
            err.to_string(),
            "configuration error: DATABASE_URL: is required"
        );
    }

    #[test]
    fn malformed_values_are_named() {
        for (var, value) in [
            ("PORT", "eighty"),
            ("DATABASE_POOL_SIZE", "0"),
            ("RATE_LIMIT_LOGIN", "5 per minute"),
            ("RATE_LIMIT_ANYTHING", "lots"),
            ("TRUSTED_PROXY_HOPS", "-1"),
            ("JWT_PUBLIC_KEYS", "not a key"),
            ("JWT_PRIVATE_KEY", DEV_JWT_PUBLIC_KEY),
            ("CORS_ORIGINS", "*"),
            ("PUSH_AUTH_VERIFY", "maybe"),
            ("APP_ENV", "staging"),
            ("MAIL_PROVIDER", "smtp"),
        ] {
            let err = with(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{var}={value}: {err}");
        }
    }

    /// A production key pair (for tests only) and a second public key (a rotation's).
    const REAL_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIKeWYWd/9ooUTB2+oWns8dCnwMOonj1zGmyfGrLvpCqg
-----END PRIVATE KEY-----";
    const REAL_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAOxyV82F6iHOIZurCfhC85zYfHJ6RS5yF86FzwODFOJE=
-----END PUBLIC KEY-----";
    const NEXT_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAwzql3hb+ZuOhl+EkGlYsLF18UpnWBvqueR5dgM4r0+0=
-----END PUBLIC KEY-----";
    const CURSOR: &str = "a-real-cursor-secret-of-32-chars-or-more";
    const REFRESH: &str = "another-real-secret-of-32-chars-or-more";

    #[test]
    fn production_refuses_development_defaults() {
        let prod = [("APP_ENV", "production"), ("PUSH_AUDIENCE", "https://w")];
        let err = with(&prod).unwrap_err();
        assert_eq!(err.var, "JWT_PUBLIC_KEYS");

        let mut vars = prod.to_vec();
        vars.extend([
            ("JWT_PUBLIC_KEYS", DEV_JWT_PUBLIC_KEY),
            ("CURSOR_SECRET_KEY", CURSOR),
        ]);
        assert_eq!(with(&vars).unwrap_err().var, "JWT_PUBLIC_KEYS");
        let mut vars = prod.to_vec();
        vars.extend([
            ("JWT_PUBLIC_KEYS", REAL_PUBLIC),
            ("CURSOR_SECRET_KEY", CURSOR),
            ("JWT_PRIVATE_KEY", DEV_JWT_PRIVATE_KEY),
        ]);
        assert_eq!(with(&vars).unwrap_err().var, "JWT_PRIVATE_KEY");
        let mut vars = prod.to_vec();
        vars.extend([
            ("JWT_PUBLIC_KEYS", REAL_PUBLIC),
            ("CURSOR_SECRET_KEY", DEV_CURSOR_SECRET),
        ]);
        assert_eq!(with(&vars).unwrap_err().var, "CURSOR_SECRET_KEY");

        let mut vars = prod.to_vec();
        vars.push(("REDIS_URL", "rediss://10.0.0.3:6378"));
        vars.push(("JWT_PUBLIC_KEYS", REAL_PUBLIC));
        vars.push(("CURSOR_SECRET_KEY", CURSOR));
        assert_eq!(with(&vars).unwrap_err().var, "FILES_URL");
        vars.push(("FILES_URL", "https://api.example.com/api/v1/files"));
        let s = with(&vars).unwrap();
        assert!(s.push.verify);
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.require_openai_key().unwrap_err().var, "OPENAI_API_KEY");

        vars.push(("PUSH_AUTH_VERIFY", "false"));
        assert_eq!(with(&vars).unwrap_err().var, "PUSH_AUTH_VERIFY");
    }

    #[test]
    fn only_token_makers_need_the_signing_keys() {
        let prod = [
            ("APP_ENV", "production"),
            ("REDIS_URL", "rediss://10.0.0.3:6378"),
            ("CURSOR_SECRET_KEY", CURSOR),
            ("FILES_URL", "https://api.example.com/api/v1/files"),
        ];
        // A function that only verifies: the public keys are enough.
        let mut vars = prod.to_vec();
        vars.push(("JWT_PUBLIC_KEYS", REAL_PUBLIC));
        let verifier = with(&vars).unwrap();
        assert!(verifier.jwt.private_key.is_none() && verifier.jwt.refresh_secret.is_none());
        assert_eq!(
            verifier.require_signing_keys().unwrap_err().var,
            "JWT_PRIVATE_KEY"
        );
        // A maker: the private key, its public half among the public keys, the refresh secret.
        vars.push(("JWT_PRIVATE_KEY", REAL_PRIVATE));
        assert_eq!(
            with(&vars).unwrap().require_signing_keys().unwrap_err().var,
            "JWT_REFRESH_SECRET_KEY"
        );
        vars.push(("JWT_REFRESH_SECRET_KEY", REFRESH));
        assert!(with(&vars).unwrap().require_signing_keys().is_ok());
        let mut elsewhere = vars.clone();
        elsewhere.retain(|(k, _)| *k != "JWT_PUBLIC_KEYS");
        elsewhere.push(("JWT_PUBLIC_KEYS", NEXT_PUBLIC));
        assert_eq!(
            with(&elsewhere)
                .unwrap()
                .require_signing_keys()
                .unwrap_err()
                .var,
            "JWT_PUBLIC_KEYS"
        );
        // During a rotation both public keys verify.
        let both = format!("{REAL_PUBLIC}\n{NEXT_PUBLIC}");
        let mut rotating = vars.clone();
        rotating.retain(|(k, _)| *k != "JWT_PUBLIC_KEYS");
        let mut rotating: Vec<(&str, &str)> = rotating;
        rotating.push(("JWT_PUBLIC_KEYS", &both));
        let s = Settings::from_vars(Kind::Service, base().into_iter().chain(rotating)).unwrap();
        assert_eq!(s.jwt.public_keys.len(), 2);
        assert!(s.require_signing_keys().is_ok());
    }

    #[test]
    fn production_fails_closed() {
        let base = [
            ("DATABASE_URL", "postgres://u@localhost/db"),
            ("APP_ENV", "production"),
            ("JWT_PUBLIC_KEYS", REAL_PUBLIC),
            ("CURSOR_SECRET_KEY", CURSOR),
            ("REDIS_URL", "rediss://10.0.0.3:6378"),
            ("FILES_URL", "https://api.example.com/api/v1/files"),
            ("PUSH_AUDIENCE", "https://worker-push"),
            (
                "PUSH_SERVICE_ACCOUNT_EMAIL",
                "push@p.iam.gserviceaccount.com",
            ),
        ];
        let without = |kind, var: &str| {
            let vars = base.iter().filter(|(k, _)| *k != var).copied();
            Settings::from_vars(kind, vars).map(|_| ())
        };
        assert!(without(Kind::Service, "none").is_ok());
        assert!(without(Kind::Worker, "none").is_ok());
        assert_eq!(
            without(Kind::Service, "REDIS_URL").unwrap_err().var,
            "REDIS_URL"
        );
        assert!(
            without(Kind::Worker, "REDIS_URL").is_ok(),
            "workers use no Redis"
        );
        assert_eq!(
            without(Kind::Service, "FILES_URL").unwrap_err().var,
            "FILES_URL",
            "links to files must not point at localhost"
        );
        assert!(
            without(Kind::Worker, "FILES_URL").is_ok(),
            "workers make no links"
        );
        let emulated = base
            .iter()
            .copied()
            .chain([("STORAGE_EMULATOR_HOST", "http://127.0.0.1:4443")]);
        let err = Settings::from_vars(Kind::Worker, emulated).unwrap_err();
        assert_eq!(err.var, "STORAGE_EMULATOR_HOST");
        let plain = base
            .iter()
            .copied()
            .chain([("REDIS_URL", "redis://10.0.0.3:6379")]);
        let err = Settings::from_vars(Kind::Service, plain).unwrap_err();
        assert_eq!(
            (err.var.as_str(), err.problem.contains("rediss://")),
            ("REDIS_URL", true)
        );
        for var in ["PUSH_AUDIENCE", "PUSH_SERVICE_ACCOUNT_EMAIL"] {
            assert_eq!(without(Kind::Worker, var).unwrap_err().var, var);
        }
        for var in ["GOOGLE_JWKS_URL", "OPENAI_BASE_URL", "SENDGRID_BASE_URL"] {
            let vars = base
                .iter()
                .copied()
                .chain([(var, "http://plain.example.com")]);
            let err = Settings::from_vars(Kind::Service, vars).unwrap_err();
            assert_eq!(err.var, var);
        }
    }

    #[test]
    fn only_services_need_the_token_keys_in_production() {
        let prod = [
            ("DATABASE_URL", "postgres://u@localhost/db"),
            ("APP_ENV", "production"),
            ("PUSH_AUDIENCE", "https://worker-push"),
            (
                "PUSH_SERVICE_ACCOUNT_EMAIL",
                "push@p.iam.gserviceaccount.com",
            ),
        ];
        for kind in [Kind::Worker, Kind::Job] {
            let s = Settings::from_vars(kind, prod).unwrap();
            assert!(
                s.jwt.public_keys.is_empty() && s.jwt.private_key.is_none(),
                "{kind:?}"
            );
            let t = Settings::from_vars(kind, prod).unwrap();
            assert_ne!(
                s.cursor_secret, t.cursor_secret,
                "{kind:?}: a random cursor key"
            );
        }
        let err = Settings::from_vars(Kind::Service, prod).unwrap_err();
        assert_eq!(err.var, "JWT_PUBLIC_KEYS");
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let s = with(&[
            (
                "JWT_REFRESH_SECRET_KEY",
                "super-secret-value-that-is-long-enough",
            ),
            ("JWT_PRIVATE_KEY", REAL_PRIVATE),
            ("JWT_PUBLIC_KEYS", REAL_PUBLIC),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("super-secret"));
        assert!(!shown.contains("MC4CAQAwBQYDK2VwBCIEIKeW"));
    }

    #[test]
    fn parses_the_seed_syntax() {
        assert_eq!("5/15minute".parse(), Ok(RateSpec::per_minutes(5, 15)));
        assert_eq!("30/hour".parse(), Ok(RateSpec::per_minutes(30, 60)));
        assert_eq!("100/15minutes".parse(), Ok(RateSpec::per_minutes(100, 15)));
        assert_eq!(
            "2/10second".parse(),
            Ok(RateSpec {
                limit: 2,
                window: Duration::from_secs(10)
            })
        );
        assert_eq!(
            "1000/day".parse::<RateSpec>().unwrap().window,
            Duration::from_secs(86_400)
        );
        for bad in [
            "",
            "5",
            "5/",
            "/hour",
            "0/hour",
            "5/0minute",
            "x/hour",
            "5/fortnight",
            "5/15",
        ] {
            assert!(bad.parse::<RateSpec>().is_err(), "{bad}");
        }
    }
}
