//! The credential chain (environment → profile → web identity → container
//! → instance metadata), an optional role on top, and the cache.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_runtime::env_config::section::{EnvConfigSections, Profile};

use super::SigV4Config;
use super::enabled::{
    AwsEnvironment, Clock, REFRESH_BEFORE, REREAD_AFTER, StaticCredentials, permanent,
};
use super::remote::{self, Http};
use crate::sign::SignError;

/// Credentials and where they came from.
pub(crate) struct Resolved {
    pub(crate) credentials: Credentials,
    /// e.g. `environment`, `profile "dev"`.
    pub(crate) source: String,
    /// When they were obtained (by the signer's clock).
    fetched: SystemTime,
}

impl Resolved {
    pub(crate) fn new(credentials: Credentials, source: String, now: SystemTime) -> Self {
        Self {
            credentials,
            source,
            fetched: now,
        }
    }

    /// Whether to use them without asking again.
    fn fresh(&self, now: SystemTime) -> bool {
        match self.credentials.expiry() {
            Some(expiry) => now
                .checked_add(REFRESH_BEFORE)
                .is_some_and(|limit| limit < expiry),
            None => self
                .fetched
                .checked_add(REREAD_AFTER)
                .is_some_and(|limit| now < limit),
        }
    }

    /// Whether they still work (a failed refresh falls back to them).
    fn unexpired(&self, now: SystemTime) -> bool {
        self.credentials.expiry().is_none_or(|expiry| now < expiry)
    }
}

/// The outcome of one step of the chain.
pub(crate) enum Lookup {
    /// This step supplied credentials.
    Found(Resolved),
    /// This step is not configured; why (for the final error message).
    Missing(String),
}

/// Shared by every step: lookups, region, HTTP, clock.
pub(crate) struct Context {
    pub(crate) env: AwsEnvironment,
    pub(crate) region: String,
    pub(crate) http: Http,
    pub(crate) clock: Clock,
}

impl Context {
    pub(crate) fn now(&self) -> SystemTime {
        (self.clock)()
    }
}

/// A role to assume on top of the base credentials.
struct AssumeRole {
    role_arn: String,
    session_name: Option<String>,
    external_id: Option<String>,
}

enum Base {
    Static(Credentials),
    Chain { profile: Option<String> },
}

/// Where the signer's credentials come from, with the cache.
pub(crate) struct Provider {
    base: Base,
    assume: Option<AssumeRole>,
    ctx: Context,
    cache: tokio::sync::Mutex<Option<Arc<Resolved>>>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.base {
            Base::Static(c) => write!(f, "static credentials {}", c.access_key_id())?,
            Base::Chain { profile: Some(p) } => write!(f, "profile {p:?}")?,
            Base::Chain { profile: None } => f.write_str("default chain")?,
        }
        if let Some(role) = &self.assume {
            write!(f, ", then role {}", role.role_arn)?;
        }
        Ok(())
    }
}

impl Provider {
    pub(crate) fn new(
        config: &SigV4Config,
        region: &str,
        env: AwsEnvironment,
        credentials: Option<StaticCredentials>,
        clock: Clock,
    ) -> Result<Self, SignError> {
        let non_empty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let base = match credentials {
            Some(c) => {
                if c.access_key_id.is_empty() || c.secret_access_key.is_empty() {
                    return Err(permanent(
                        "static AWS credentials need an access key ID and a secret access key"
                            .to_owned(),
                    ));
                }
                Base::Static(Credentials::new(
                    c.access_key_id,
                    c.secret_access_key,
                    c.session_token.filter(|t| !t.is_empty()),
                    None,
                    "static",
                ))
            }
            None => Base::Chain {
                profile: non_empty(&config.profile),
            },
        };
        let assume = non_empty(&config.role_arn).map(|role_arn| AssumeRole {
            role_arn,
            session_name: non_empty(&config.role_session_name),
            external_id: non_empty(&config.external_id),
        });
        Ok(Self {
            base,
            assume,
            ctx: Context {
                env,
                region: region.to_owned(),
                http: Http::new()?,
                clock,
            },
            cache: tokio::sync::Mutex::new(None),
        })
    }

    /// Cached credentials while fresh, else new ones. A failed refresh
    /// falls back to cached credentials that have not expired yet.
    pub(crate) async fn credentials(&self) -> Result<Arc<Resolved>, SignError> {
        // Held across the refresh: concurrent signers wait for one refresh
        // rather than each calling STS.
        let mut cached = self.cache.lock().await;
        let now = self.ctx.now();
        if let Some(r) = cached.as_ref()
            && r.fresh(now)
        {
            return Ok(r.clone());
        }
        match self.resolve().await {
            Ok(r) => {
                let r = Arc::new(r);
                *cached = Some(r.clone());
                Ok(r)
            }
            Err(e) => match cached.as_ref() {
                Some(r) if r.unexpired(now) => Ok(r.clone()),
                _ => Err(e),
            },
        }
    }

    async fn resolve(&self) -> Result<Resolved, SignError> {
        let base = match &self.base {
            Base::Static(c) => {
                Resolved::new(c.clone(), "static credentials".to_owned(), self.ctx.now())
            }
            Base::Chain { profile } => self.chain(profile.as_deref()).await?,
        };
        match &self.assume {
            None => Ok(base),
            Some(role) => {
                remote::assume_role(
                    &self.ctx,
                    &base,
                    &role.role_arn,
                    role.session_name.as_deref(),
                    role.external_id.as_deref(),
                )
                .await
            }
        }
    }

    async fn chain(&self, profile: Option<&str>) -> Result<Resolved, SignError> {
        let ctx = &self.ctx;
        let mut tried = Vec::new();
        if let Some(name) = profile {
            // An explicit profile is the only source.
            let files = SharedFiles::load(&ctx.env).await?;
            return match from_profile(ctx, &files, name, Vec::new()).await? {
                Lookup::Found(r) => Ok(r),
                Lookup::Missing(why) => Err(permanent(format!(
                    "no AWS credentials in profile {name:?} ({why})"
                ))),
            };
        }

        match from_env(ctx) {
            Lookup::Found(r) => return Ok(r),
            Lookup::Missing(why) => tried.push(format!("environment ({why})")),
        }

        let chosen = ctx.env.var("AWS_PROFILE");
        let name = chosen.as_deref().unwrap_or("default");
        let files = SharedFiles::load(&ctx.env).await?;
        match from_profile(ctx, &files, name, Vec::new()).await? {
            Lookup::Found(r) => return Ok(r),
            Lookup::Missing(why) if chosen.is_some() => {
                // AWS_PROFILE names a profile on purpose; falling through
                // to, say, the instance role would hide the mistake.
                return Err(permanent(format!(
                    "no AWS credentials in profile {name:?} (AWS_PROFILE): {why}"
                )));
            }
            Lookup::Missing(why) => tried.push(format!("profile {name:?} ({why})")),
        }

        match from_web_identity(ctx).await? {
            Lookup::Found(r) => return Ok(r),
            Lookup::Missing(why) => tried.push(format!("web identity ({why})")),
        }
        match remote::container(ctx).await? {
            Lookup::Found(r) => return Ok(r),
            Lookup::Missing(why) => tried.push(format!("container ({why})")),
        }
        match remote::instance_metadata(ctx).await? {
            Lookup::Found(r) => return Ok(r),
            Lookup::Missing(why) => tried.push(format!("instance metadata ({why})")),
        }
        Err(permanent(format!(
            "no AWS credentials: tried {}",
            tried.join(", ")
        )))
    }
}

/// Step 1: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
fn from_env(ctx: &Context) -> Lookup {
    let env = &ctx.env;
    match (
        env.var("AWS_ACCESS_KEY_ID"),
        env.var("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(id), Some(secret)) => Lookup::Found(Resolved::new(
            Credentials::new(
                id,
                secret,
                env.var("AWS_SESSION_TOKEN"),
                None,
                "environment",
            ),
            "environment".to_owned(),
            ctx.now(),
        )),
        (None, None) => Lookup::Missing("AWS_ACCESS_KEY_ID unset".to_owned()),
        (Some(_), None) => {
            Lookup::Missing("AWS_ACCESS_KEY_ID set but AWS_SECRET_ACCESS_KEY unset".to_owned())
        }
        (None, Some(_)) => {
            Lookup::Missing("AWS_SECRET_ACCESS_KEY set but AWS_ACCESS_KEY_ID unset".to_owned())
        }
    }
}

/// Step 3: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`.
async fn from_web_identity(ctx: &Context) -> Result<Lookup, SignError> {
    let env = &ctx.env;
    match (
        env.var("AWS_WEB_IDENTITY_TOKEN_FILE"),
        env.var("AWS_ROLE_ARN"),
    ) {
        (None, None) => Ok(Lookup::Missing(
            "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN unset".to_owned(),
        )),
        (None, Some(_)) => Ok(Lookup::Missing(
            "AWS_ROLE_ARN set but AWS_WEB_IDENTITY_TOKEN_FILE unset".to_owned(),
        )),
        (Some(file), None) => Err(permanent(format!(
            "web identity: AWS_WEB_IDENTITY_TOKEN_FILE is set ({file}) but AWS_ROLE_ARN is not"
        ))),
        (Some(file), Some(role_arn)) => {
            let session = env.var("AWS_ROLE_SESSION_NAME");
            remote::assume_role_with_web_identity(
                ctx,
                &file,
                &role_arn,
                session.as_deref(),
                "web identity",
            )
            .await
            .map(Lookup::Found)
        }
    }
}

/// The parsed shared config and credentials files.
struct SharedFiles {
    sections: EnvConfigSections,
    /// "<credentials path>, <config path>", for messages.
    paths: String,
}

impl SharedFiles {
    async fn load(env: &AwsEnvironment) -> Result<Self, SignError> {
        let home = env.var("HOME");
        let path = |var: &str, default: &str| {
            env.var(var).unwrap_or_else(|| match &home {
                Some(h) => format!("{}/{default}", h.trim_end_matches('/')),
                None => format!("~/{default}"),
            })
        };
        let paths = format!(
            "{}, {}",
            path("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"),
            path("AWS_CONFIG_FILE", ".aws/config")
        );
        // aws-runtime's loader: the same file locations, `~` expansion and
        // `[profile x]` rules as the AWS SDKs; missing files are empty.
        let source =
            aws_runtime::env_config::source::load(&env.env, &env.fs, &EnvConfigFiles::default())
                .await
                .map_err(|e| {
                    permanent(format!(
                        "cannot read the shared AWS files ({paths}): {}",
                        error_chain(&e)
                    ))
                })?;
        let sections = EnvConfigSections::parse(source).map_err(|e| {
            permanent(format!(
                "cannot parse the shared AWS files ({paths}): {}",
                error_chain(&e)
            ))
        })?;
        Ok(Self { sections, paths })
    }
}

type BoxLookup<'a> = Pin<Box<dyn Future<Output = Result<Lookup, SignError>> + Send + 'a>>;

/// At most this many profiles in one `source_profile` chain.
const MAX_PROFILE_CHAIN: usize = 8;

/// Step 2: a profile of the shared files. `visited` holds the profiles
/// whose `source_profile` led here.
fn from_profile<'a>(
    ctx: &'a Context,
    files: &'a SharedFiles,
    name: &'a str,
    mut visited: Vec<String>,
) -> BoxLookup<'a> {
    Box::pin(async move {
        let Some(profile) = files.sections.get_profile(name) else {
            return Ok(Lookup::Missing(format!("not found in {}", files.paths)));
        };
        let label = profile_label(name);
        visited.push(name.to_owned());
        if let Some(role_arn) = profile.get("role_arn") {
            return assume_profile_role(ctx, files, name, profile, role_arn, visited).await;
        }
        if let Some(found) = static_keys(ctx, profile, &label) {
            return Ok(Lookup::Found(found));
        }
        if profile.get("credential_process").is_some() {
            return Err(permanent(format!(
                "{label} uses credential_process, which costetl does not run; export the \
                 credentials instead (aws configure export-credentials --profile {name} \
                 --format env)"
            )));
        }
        if profile.get("sso_session").is_some() || profile.get("sso_start_url").is_some() {
            return Err(permanent(format!(
                "{label} uses IAM Identity Center (SSO), which costetl does not support; export \
                 the credentials instead (aws configure export-credentials --profile {name} \
                 --format env)"
            )));
        }
        Ok(Lookup::Missing(format!(
            "no aws_access_key_id or role_arn in {}",
            files.paths
        )))
    }) as BoxLookup<'a>
}

/// A profile with `role_arn`: the role assumed with the credentials of
/// its `source_profile` or `credential_source`, or with its web identity
/// token.
async fn assume_profile_role(
    ctx: &Context,
    files: &SharedFiles,
    name: &str,
    profile: &Profile,
    role_arn: &str,
    visited: Vec<String>,
) -> Result<Lookup, SignError> {
    let label = profile_label(name);
    let source = if let Some(source_name) = profile.get("source_profile") {
        source_profile(ctx, files, name, profile, source_name, visited).await?
    } else if let Some(token_file) = profile.get("web_identity_token_file") {
        return remote::assume_role_with_web_identity(
            ctx,
            token_file,
            role_arn,
            profile.get("role_session_name"),
            &label,
        )
        .await
        .map(Lookup::Found);
    } else if let Some(source) = profile.get("credential_source") {
        credential_source(ctx, source, &label).await?
    } else {
        return Err(permanent(format!(
            "{label} has role_arn but no source_profile, web_identity_token_file or \
             credential_source"
        )));
    };
    remote::assume_role(
        ctx,
        &source,
        role_arn,
        profile.get("role_session_name"),
        profile.get("external_id"),
    )
    .await
    .map(Lookup::Found)
}

/// The credentials of profile `name`'s `source_profile`: its own keys, or
/// the source's chain, without loops and at most [`MAX_PROFILE_CHAIN`]
/// profiles deep.
async fn source_profile(
    ctx: &Context,
    files: &SharedFiles,
    name: &str,
    profile: &Profile,
    source_name: &str,
    visited: Vec<String>,
) -> Result<Resolved, SignError> {
    let label = profile_label(name);
    if source_name == name {
        // A profile may hold the keys for its own role.
        static_keys(ctx, profile, &label).ok_or_else(|| {
            permanent(format!(
                "{label} is its own source_profile but has no \
                 aws_access_key_id/aws_secret_access_key"
            ))
        })
    } else if visited.iter().any(|v| v == source_name) {
        Err(permanent(format!(
            "{label}: source_profile loop ({} → {source_name})",
            visited.join(" → ")
        )))
    } else if visited.len() >= MAX_PROFILE_CHAIN {
        Err(permanent(format!(
            "{label}: more than {MAX_PROFILE_CHAIN} profiles chained by source_profile"
        )))
    } else {
        match from_profile(ctx, files, source_name, visited).await? {
            Lookup::Found(r) => Ok(r),
            Lookup::Missing(why) => Err(permanent(format!(
                "{label}: source_profile {source_name:?} has no credentials ({why})"
            ))),
        }
    }
}

/// How messages name profile `name`.
fn profile_label(name: &str) -> String {
    format!("profile {name:?}")
}

/// The credentials a profile's `credential_source` names.
async fn credential_source(
    ctx: &Context,
    source: &str,
    label: &str,
) -> Result<Resolved, SignError> {
    let found = match source {
        "Environment" => from_env(ctx),
        "EcsContainer" => remote::container(ctx).await?,
        "Ec2InstanceMetadata" => remote::instance_metadata(ctx).await?,
        other => {
            return Err(permanent(format!(
                "{label}: unknown credential_source {other:?} (expected Environment, \
                 EcsContainer or Ec2InstanceMetadata)"
            )));
        }
    };
    match found {
        Lookup::Found(r) => Ok(r),
        Lookup::Missing(why) => Err(permanent(format!(
            "{label}: credential_source {source} has no credentials ({why})"
        ))),
    }
}

/// `aws_access_key_id` + `aws_secret_access_key` (+ `aws_session_token`).
fn static_keys(ctx: &Context, profile: &Profile, label: &str) -> Option<Resolved> {
    let id = profile.get("aws_access_key_id").filter(|v| !v.is_empty())?;
    let secret = profile
        .get("aws_secret_access_key")
        .filter(|v| !v.is_empty())?;
    let token = profile
        .get("aws_session_token")
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    Some(Resolved::new(
        Credentials::new(id, secret, token, None, "profile"),
        label.to_owned(),
        ctx.now(),
    ))
}

/// The credential paths' errors name their causes the way the client's do.
pub(crate) use crate::client::error_chain;
